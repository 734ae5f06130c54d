//! [`TestDb`]: a database of its own for one test, under `ZTOQ_TEST_DATABASE_URL` or
//! `DATABASE_URL` when set (created, then dropped on `Drop`), else in a throwaway cluster
//! started for the test. Lets `cargo test` run on a machine with nothing set up.

use crate::TempPostgres;

/// A database of its own for one test.
pub struct TestDb {
    /// URL of the test's database.
    pub url: String,
    admin_url: String,
    name: String,
    _temp: Option<TempPostgres>,
}

impl TestDb {
    /// Creates the database (and the cluster, when there is no URL to use).
    pub async fn new() -> TestDb {
        let (admin_url, temp) = match std::env::var("ZTOQ_TEST_DATABASE_URL")
            .or_else(|_| std::env::var("DATABASE_URL"))
        {
            Ok(url) => (url, None),
            Err(_) => {
                let pg = TempPostgres::start()
                    .await
                    .expect("start a throwaway Postgres");
                (pg.url(), Some(pg))
            }
        };
        TestDb::create(admin_url, temp).await
    }

    /// A database in a throwaway cluster of its own, whatever the environment says: for
    /// tests that stop or restart the server ([`TestDb::cluster`]).
    pub async fn in_own_cluster() -> TestDb {
        let pg = TempPostgres::start()
            .await
            .expect("start a throwaway Postgres");
        TestDb::create(pg.url(), Some(pg)).await
    }

    /// The throwaway cluster the database lives in, if it has one of its own.
    pub fn cluster(&self) -> Option<&TempPostgres> {
        self._temp.as_ref()
    }

    async fn create(admin_url: String, temp: Option<TempPostgres>) -> TestDb {
        let name = format!("ztoq_e2e_{}_{}", std::process::id(), rand_suffix());
        let admin = connect(&admin_url).await.expect("connect to Postgres");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .expect("create database");
        admin.close().await;
        let url = replace_db(&admin_url, &name);
        TestDb {
            url,
            admin_url,
            name,
            _temp: temp,
        }
    }

    /// A pool on the test's database.
    pub async fn pool(&self) -> sqlx::PgPool {
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .connect(&self.url)
            .await
            .expect("connect to the test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self._temp.is_some() {
            return; // the throwaway cluster goes away with its directory
        }
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Best effort, on a runtime of its own (Drop cannot await).
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let admin = connect(&admin_url).await.ok()?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&admin)
                .await
                .ok()
            })
        })
        .join();
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish() % 1_000_000_000
}

fn replace_db(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let base = match base.rfind('/') {
        Some(i) if base[..i].contains("//") && i > base.find("//").unwrap_or(0) + 1 => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

async fn connect(url: &str) -> Result<sqlx::PgPool, sqlx::Error> {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
}
