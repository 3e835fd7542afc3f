//! `aula media check`: is the store reachable and writable? Writes a probe object, reads it
//! back, compares, deletes it.

use bytes::Bytes;

use super::{Media, s3::read_all, storage::BodyStream};

/// Runs the check; `Err` says what failed, in Spanish.
pub async fn run(media: &Media) -> Result<String, String> {
    let storage = &media.storage;
    let key = format!(
        "tmp/prueba-{}",
        crate::web::cookies::random_token().replace(['-', '_'], "x")
    );
    let payload = Bytes::from(format!("aula media check {key}"));
    let body: BodyStream<'static> = Box::pin(futures_util::stream::once({
        let p = payload.clone();
        async move { Ok(p) }
    }));
    storage
        .put(&key, body, "text/plain")
        .await
        .map_err(|e| format!("no se pudo escribir en {}: {e}", storage.backend()))?;
    let back = read_all(storage.as_ref(), &key, payload.len() as u64).await;
    let deleted = storage.delete(&key).await;
    let back = back.map_err(|e| format!("se escribió pero no se pudo leer: {e}"))?;
    if back != payload {
        return Err("lo leído no coincide con lo escrito".into());
    }
    deleted.map_err(|e| format!("se escribió y leyó, pero no se pudo borrar: {e}"))?;
    if storage
        .exists(&key)
        .await
        .map_err(|e| format!("no se pudo consultar: {e}"))?
    {
        return Err("el objeto de prueba sigue ahí después de borrarlo".into());
    }
    Ok(format!(
        "Almacenamiento de medios: {} — se puede escribir, leer y borrar.{}",
        storage.backend(),
        if media.renditions_enabled() {
            " ffmpeg: instalado (versiones livianas de los videos)."
        } else if media.config.renditions == Some(false) {
            " Versiones livianas de los videos: desactivadas."
        } else {
            " ffmpeg: no encontrado (los videos se sirven sin versiones livianas)."
        }
    ))
}
