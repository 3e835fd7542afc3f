-- Staff accounts (the administrator and instructor accounts `aula admin create` and the demo
-- data create) are not people of a territory: offices do not list, find or act on them.
ALTER TABLE persons ADD COLUMN staff_only BOOLEAN NOT NULL DEFAULT FALSE;
-- The demo accounts created before this flag existed.
UPDATE persons SET staff_only = TRUE
 WHERE created_by IS NULL
   AND ((first_name = 'Administración' AND last_name = 'Aula')
     OR (first_name = 'Docente' AND last_name = 'Demo'));
