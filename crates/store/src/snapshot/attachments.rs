//! Attachments: the references found on test cases and executions, and the file name ztoq
//! gives each. Stored as columns only (no `raw`, and the file's content is not part of the
//! snapshot); the only free text, the name, loses its NULs in [`attachment_name`].

use sqlx::{PgConnection, Row};
use ztoq_model::zephyr::AttachmentRef;

/// Stores the attachments found on one owner (`test_case` or `execution`).
pub async fn save_attachments(
    conn: &mut PgConnection,
    run_id: i64,
    owner_kind: &str,
    owner_id: i64,
    attachments: &[AttachmentRef],
) -> Result<(), sqlx::Error> {
    let ids: Vec<i64> = attachments.iter().map(|a| a.id).collect();
    let names: Vec<String> = attachments.iter().map(attachment_name).collect();
    sqlx::query(
        "INSERT INTO src_attachments (run_id, id, owner_kind, owner_id, name)
         SELECT $1, u.id, $2, $3, u.name FROM unnest($4::bigint[], $5::text[]) AS u(id, name)
         ON CONFLICT (run_id, id) DO UPDATE SET owner_kind = EXCLUDED.owner_kind,
           owner_id = EXCLUDED.owner_id, name = EXCLUDED.name",
    )
    .bind(run_id)
    .bind(owner_kind)
    .bind(owner_id)
    .bind(&ids)
    .bind(&names)
    .execute(conn)
    .await?;
    Ok(())
}

/// The file name ztoq uses for an attachment (the API may omit the name; NULs removed).
pub fn attachment_name(a: &AttachmentRef) -> String {
    a.name
        .as_deref()
        .map(|n| n.replace('\0', ""))
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| format!("attachment-{}", a.id))
}

/// A stored attachment: its owner and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrcAttachment {
    /// Attachment id.
    pub id: i64,
    /// `test_case` or `execution`.
    pub owner_kind: String,
    /// The owner's Zephyr id.
    pub owner_id: i64,
    /// File name.
    pub name: String,
}

/// A stored attachment.
pub async fn attachment(
    conn: &mut PgConnection,
    run_id: i64,
    id: i64,
) -> Result<Option<SrcAttachment>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, owner_kind, owner_id, name FROM src_attachments WHERE run_id = $1 AND id = $2",
    )
    .bind(run_id)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| SrcAttachment {
        id: r.get("id"),
        owner_kind: r.get("owner_kind"),
        owner_id: r.get("owner_id"),
        name: r.get("name"),
    }))
}
