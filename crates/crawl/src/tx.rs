//! [`in_tx!`]: a page's writes in one transaction, retried on deadlocks and lost connections.

/// Runs `$body` (which uses `$tx: &mut PgConnection`) in a transaction, retrying it on
/// deadlocks and lost connections.
macro_rules! in_tx {
    ($pool:expr, |$tx:ident| $body:expr) => {{
        let mut wait = std::time::Duration::from_millis(50);
        let mut tries = 0;
        loop {
            let mut tx = $pool.begin().await?;
            let result = {
                let $tx: &mut sqlx::PgConnection = &mut tx;
                $body
            };
            let result = match result {
                Ok(v) => tx.commit().await.map(|_| v),
                Err(e) => Err(e),
            };
            match result {
                Err(e) if ztoq_store::is_retryable(&e) && tries < 10 => {
                    tries += 1;
                    tracing::warn!(error = %e, "retrying a page's transaction");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
                other => break other,
            }
        }
    }};
}

pub(crate) use in_tx;
