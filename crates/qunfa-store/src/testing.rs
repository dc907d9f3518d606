//! What tests of any crate need to run against PostgreSQL: a schema of their own on the server
//! `QUNFA_TEST_PG` names (default `postgres://root@127.0.0.1/test`), dropped afterwards.
//! Built only with the `testsuite` feature.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The PostgreSQL server tests use.
pub fn pg_base_url() -> String {
    std::env::var("QUNFA_TEST_PG").unwrap_or_else(|_| "postgres://root@127.0.0.1/test".into())
}

/// A schema of its own for one test, dropped (best effort) when this is dropped.
pub struct PgSchema {
    name: String,
}

impl Default for PgSchema {
    fn default() -> Self {
        Self::new()
    }
}

impl PgSchema {
    pub fn new() -> PgSchema {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        PgSchema {
            name: format!(
                "qt_{}_{}_{:x}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::SeqCst),
                nanos
            ),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The store URL of this schema.
    pub fn url(&self) -> String {
        self.url_with("")
    }

    /// The store URL with more query parameters (`&application_name=x`).
    pub fn url_with(&self, extra: &str) -> String {
        let base = pg_base_url();
        let sep = if base.contains('?') { '&' } else { '?' };
        format!("{base}{sep}schema={}{extra}", self.name)
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let schema = self.name.clone();
        // Drop cannot await: a runtime of its own, on a thread of its own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                let base = pg_base_url();
                let Ok((client, conn)) = tokio_postgres::connect(
                    base.split('?').next().unwrap_or_default(),
                    tokio_postgres::NoTls,
                )
                .await
                else {
                    return;
                };
                tokio::spawn(conn);
                let _ = client
                    .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                    .await;
            });
        })
        .join();
    }
}
