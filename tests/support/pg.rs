//! The test backend, shared by the test crates (`it`, `durability`): SQLite unless
//! `AULA_TEST_BACKEND=postgres`, then a fresh database per test on `AULA_TEST_PG`.

/// Which backend this test run uses.
pub fn postgres() -> bool {
    std::env::var("AULA_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// The PostgreSQL server tests create their databases on.
pub fn server() -> String {
    std::env::var("AULA_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// Creates an empty database named `{prefix}_{random}` (`.ci/run` drops `aula_test_*` and
/// `aula_durab_*` ones left behind); returns (server URL, database name). Fails loudly when
/// PostgreSQL does not answer: a test asked for it must never pass without it.
pub async fn fresh_database(prefix: &str) -> (String, String) {
    let server = server();
    let token = aula::web::cookies::random_token()
        .to_lowercase()
        .replace(['-', '_'], "");
    let name = format!("{prefix}_{}", &token[..16]);
    let admin = sqlx::PgPool::connect(&format!("{server}/postgres"))
        .await
        .expect("AULA_TEST_BACKEND=postgres pero PostgreSQL no responde: arrancalo o revisá AULA_TEST_PG");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .expect("crear base de prueba");
    admin.close().await;
    (server, name)
}
