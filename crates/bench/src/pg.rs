//! Databases of the benchmark's own on one Postgres server: each ztoq run and each reference
//! gets a fresh database (so sizes and row counts are its own), created from the URL the user
//! gave and dropped afterwards.

use anyhow::{Context, Result, bail};
use sqlx::postgres::PgPoolOptions;

/// `url` with its database name replaced by `database` (query parameters kept).
pub fn with_database(url: &str, database: &str) -> Result<String> {
    let mut parsed = url::Url::parse(url).with_context(|| "parsing the database URL")?;
    if !matches!(parsed.scheme(), "postgres" | "postgresql") {
        bail!("not a postgres:// URL");
    }
    parsed.set_path(&format!("/{database}"));
    Ok(parsed.to_string())
}

/// Names the benchmark may create: lower-case letters, digits and `_` only (they go into
/// `CREATE DATABASE` unquoted).
pub fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 63
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        bail!("invalid database name {name:?}");
    }
    Ok(())
}

async fn admin(url: &str) -> Result<sqlx::PgPool> {
    PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .context("connecting to Postgres")
}

/// Creates database `name` on the server of `admin_url` (dropping a leftover of the same
/// name first); returns its URL.
pub async fn create_database(admin_url: &str, name: &str) -> Result<String> {
    drop_database(admin_url, name).await?;
    let pool = admin(admin_url).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .with_context(|| {
            format!("creating database {name} (the benchmark needs the CREATEDB privilege)")
        })?;
    pool.close().await;
    with_database(admin_url, name)
}

/// Drops database `name` (closing its connections), best effort.
pub async fn drop_database(admin_url: &str, name: &str) -> Result<()> {
    check_name(name)?;
    let pool = admin(admin_url).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&pool)
    .await?;
    pool.close().await;
    Ok(())
}

/// The server's version (`SHOW server_version`) and its memory and checkpoint sizing as one
/// line for the report, e.g. `shared_buffers 4GB, max_wal_size 8GB, checkpoint_timeout 30min`.
pub async fn server_info(url: &str) -> Result<(String, String)> {
    let pool = admin(url).await?;
    let version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&pool)
        .await?;
    let mut parts = Vec::new();
    for name in ["shared_buffers", "max_wal_size", "checkpoint_timeout"] {
        let value: String = sqlx::query_scalar("SELECT current_setting($1)")
            .bind(name)
            .fetch_one(&pool)
            .await?;
        parts.push(format!("{name} {value}"));
    }
    pool.close().await;
    Ok((version, parts.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_database() {
        assert_eq!(
            with_database(
                "postgres://postgres@127.0.0.1:5432/postgres",
                "ztoq_bench_1"
            )
            .unwrap(),
            "postgres://postgres@127.0.0.1:5432/ztoq_bench_1"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "x").unwrap(),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgresql://h:1", "x").unwrap(),
            "postgresql://h:1/x"
        );
        assert!(with_database("mysql://h/x", "y").is_err());
    }

    #[test]
    fn checks_names() {
        assert!(check_name("ztoq_bench_12_run0").is_ok());
        assert!(check_name("Bad").is_err());
        assert!(check_name("x; drop").is_err());
        assert!(check_name("").is_err());
    }
}
