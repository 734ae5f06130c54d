//! One method per qTest endpoint ztoq uses (the lists of test cases, runs and logs are in
//! `lists`), plus `search_all`, which walks every page of a Data Query.
//!
//! Paging differs per endpoint: test cases take `page`/`size` and answer a plain array; runs,
//! logs and search take `page`/`pageSize` and answer `{links, page, page_size, total, items}`.

use crate::client::{CycleParent, Deletion, QtestClient, RunParent, config_error};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde::de::DeserializeOwned;
use ztoq_http::ApiError;
use ztoq_model::qtest::{
    Attachment, Field, Module, Paged, Project, SearchParams, Status, TestCase, TestCycle, TestLog,
    TestRun,
};

/// Object types are path segments: only lowercase letters and dashes (`test-cases`).
fn check_object_type(object_type: &str) -> Result<(), ApiError> {
    if !object_type.is_empty()
        && object_type
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'-')
    {
        Ok(())
    } else {
        Err(config_error(format!(
            "invalid qTest object type '{object_type}'"
        )))
    }
}

/// Whether another page may follow `page`.
pub(crate) fn has_next<T>(page: &Paged<T>, requested: i64, collected: usize) -> bool {
    let short = (page.items.len() as i64) < requested.min(page.page_size.max(1));
    let linked = page.links.iter().any(|l| l.rel == "next");
    !page.items.is_empty() && !short && linked && (collected as i64) < page.total.max(0)
}

impl QtestClient {
    /// `GET /api/v3/projects/{projectId}`: also a cheap check that the token works.
    pub async fn project(&self) -> Result<Project, ApiError> {
        self.get_json("get_project", "", &[]).await
    }

    /// `GET …/settings/{objectType}/fields` (`test-cases`, `test-runs`, `test-steps`, …).
    pub async fn fields(&self, object_type: &str) -> Result<Vec<Field>, ApiError> {
        check_object_type(object_type)?;
        self.get_json(
            "get_fields",
            &format!("/settings/{object_type}/fields"),
            &[],
        )
        .await
    }

    /// `POST …/settings/{objectType}/fields`: creates a custom field.
    pub async fn create_field(&self, object_type: &str, field: &Field) -> Result<Field, ApiError> {
        check_object_type(object_type)?;
        self.post_json(
            "create_field",
            &format!("/settings/{object_type}/fields"),
            &[],
            field,
        )
        .await
    }

    /// `GET …/test-runs/execution-statuses`.
    pub async fn execution_statuses(&self) -> Result<Vec<Status>, ApiError> {
        self.get_json(
            "get_execution_statuses",
            "/test-runs/execution-statuses",
            &[],
        )
        .await
    }

    /// `POST …/modules[?parentId=]`.
    pub async fn create_module(
        &self,
        parent_id: Option<i64>,
        module: &Module,
    ) -> Result<Module, ApiError> {
        let query: Vec<(&str, String)> = parent_id
            .map(|p| ("parentId", p.to_string()))
            .into_iter()
            .collect();
        self.post_json("create_module", "/modules", &query, module)
            .await
    }

    /// `GET …/modules[?parentId=][&expand=descendants]`: root modules without a parent.
    pub async fn modules(
        &self,
        parent_id: Option<i64>,
        expand_descendants: bool,
    ) -> Result<Vec<Module>, ApiError> {
        let mut query: Vec<(&str, String)> = parent_id
            .map(|p| ("parentId", p.to_string()))
            .into_iter()
            .collect();
        if expand_descendants {
            query.push(("expand", "descendants".to_string()));
        }
        self.get_json("get_modules", "/modules", &query).await
    }

    /// `POST …/test-cases` (the module goes in `parent_id`; `properties` is always sent).
    pub async fn create_test_case(&self, test_case: &TestCase) -> Result<TestCase, ApiError> {
        self.post_json("create_test_case", "/test-cases", &[], test_case)
            .await
    }

    /// `GET …/test-cases/{id}?expand=teststep`.
    pub async fn test_case(&self, id: i64) -> Result<TestCase, ApiError> {
        self.get_json(
            "get_test_case",
            &format!("/test-cases/{id}"),
            &[("expand", "teststep".to_string())],
        )
        .await
    }

    /// `POST …/test-cycles?parentId=&parentType=`.
    pub async fn create_test_cycle(
        &self,
        parent: CycleParent,
        cycle: &TestCycle,
    ) -> Result<TestCycle, ApiError> {
        self.post_json("create_test_cycle", "/test-cycles", &parent.query(), cycle)
            .await
    }

    /// `GET …/test-cycles?parentId=&parentType=[&expand=descendants]` (all of them).
    pub async fn test_cycles(
        &self,
        parent: CycleParent,
        expand_descendants: bool,
    ) -> Result<Vec<TestCycle>, ApiError> {
        let mut query = parent.query().to_vec();
        query.push(("pageSize", "-1".to_string()));
        if expand_descendants {
            query.push(("expand", "descendants".to_string()));
        }
        self.get_json("get_test_cycles", "/test-cycles", &query)
            .await
    }

    /// `POST …/test-runs?parentId=&parentType=`.
    pub async fn create_test_run(
        &self,
        parent: RunParent,
        run: &TestRun,
    ) -> Result<TestRun, ApiError> {
        self.post_json("create_test_run", "/test-runs", &parent.query(), run)
            .await
    }

    /// `GET …/test-runs/{id}`.
    pub async fn test_run(&self, id: i64) -> Result<TestRun, ApiError> {
        self.get_json("get_test_run", &format!("/test-runs/{id}"), &[])
            .await
    }

    /// `POST …/test-runs/{runId}/test-logs`: a manual test log (post a run's logs oldest first:
    /// the last one sets the run's status).
    pub async fn create_test_log(&self, run_id: i64, log: &TestLog) -> Result<TestLog, ApiError> {
        self.post_json(
            "create_test_log",
            &format!("/test-runs/{run_id}/test-logs"),
            &[],
            log,
        )
        .await
    }

    /// `POST …/{objectType}/{objectId}/blob-handles`: the raw bytes with `File-Name` and
    /// `Content-Type` headers. Owners: `test-cases`, `test-logs`, `test-steps`,
    /// `test-step-logs`, `releases`, `builds`, `requirements`, `defects`.
    pub async fn upload_attachment(
        &self,
        object_type: &str,
        object_id: i64,
        file_name: &str,
        content_type: &str,
        bytes: bytes::Bytes,
    ) -> Result<Attachment, ApiError> {
        check_object_type(object_type)?;
        let mut headers = HeaderMap::new();
        let name = HeaderValue::from_bytes(file_name.as_bytes()).map_err(|_| {
            config_error(format!("file name {file_name:?} cannot travel in a header"))
        })?;
        let mime = HeaderValue::from_str(content_type).map_err(|_| {
            config_error(format!(
                "content type {content_type:?} is not a valid header value"
            ))
        })?;
        headers.insert(HeaderName::from_static("file-name"), name);
        headers.insert(CONTENT_TYPE, mime);
        let path = format!("/{object_type}/{object_id}/blob-handles");
        self.post_bytes("upload_attachment", &path, headers, bytes)
            .await
    }

    /// `GET …/{objectType}/{objectId}/attachments`.
    pub async fn attachments(
        &self,
        object_type: &str,
        object_id: i64,
    ) -> Result<Vec<Attachment>, ApiError> {
        check_object_type(object_type)?;
        self.get_json(
            "get_attachments",
            &format!("/{object_type}/{object_id}/attachments"),
            &[],
        )
        .await
    }

    /// `DELETE …/modules/{moduleId}?force=`: without `force`, qTest refuses a module that
    /// still holds sub-modules or test cases; with it, they are deleted too.
    pub async fn delete_module(&self, id: i64, force: bool) -> Result<Deletion, ApiError> {
        self.delete(
            "delete_module",
            &format!("/modules/{id}"),
            &[("force", force.to_string())],
        )
        .await
    }

    /// `DELETE …/test-cases/{testCaseId}` (its steps, attachments and test runs go with it).
    pub async fn delete_test_case(&self, id: i64) -> Result<Deletion, ApiError> {
        self.delete("delete_test_case", &format!("/test-cases/{id}"), &[])
            .await
    }

    /// `DELETE …/test-cycles/{testCycleId}?force=`: without `force`, qTest refuses a cycle
    /// that still holds test cycles, suites or runs; with it, they are deleted too.
    pub async fn delete_test_cycle(&self, id: i64, force: bool) -> Result<Deletion, ApiError> {
        self.delete(
            "delete_test_cycle",
            &format!("/test-cycles/{id}"),
            &[("force", force.to_string())],
        )
        .await
    }

    /// `DELETE …/test-runs/{testRunId}`. qTest has no delete for a single test log: a run's
    /// logs (with their step logs and attachments) go with the run.
    pub async fn delete_test_run(&self, id: i64) -> Result<Deletion, ApiError> {
        self.delete("delete_test_run", &format!("/test-runs/{id}"), &[])
            .await
    }

    /// `DELETE …/{objectType}/{objectId}/blob-handles/{blobHandleId}`: an attachment of a
    /// test case, test log, step, … (qTest 7.5+).
    pub async fn delete_attachment(
        &self,
        object_type: &str,
        object_id: i64,
        attachment_id: i64,
    ) -> Result<Deletion, ApiError> {
        check_object_type(object_type)?;
        self.delete(
            "delete_attachment",
            &format!("/{object_type}/{object_id}/blob-handles/{attachment_id}"),
            &[],
        )
        .await
    }

    /// `POST …/search?page=&pageSize=` with a Data Query (build values with
    /// [`crate::quote_query_value`]).
    pub async fn search<T: DeserializeOwned>(
        &self,
        params: &SearchParams,
        page: i64,
        page_size: i64,
    ) -> Result<Paged<T>, ApiError> {
        let query = [
            ("page", page.to_string()),
            ("pageSize", page_size.to_string()),
        ];
        self.post_json("search", "/search", &query, params).await
    }

    /// Every search hit (walks all pages).
    pub async fn search_all<T: DeserializeOwned>(
        &self,
        params: &SearchParams,
    ) -> Result<Vec<T>, ApiError> {
        let size = self.page_size;
        let mut out = Vec::new();
        for page in 1.. {
            let batch: Paged<T> = self.search(params, page, size).await?;
            let more = has_next(&batch, size, out.len() + batch.items.len());
            out.extend(batch.items);
            if !more {
                break;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ztoq_model::qtest::Link;

    fn page(items: usize, total: i64, next: bool) -> Paged<u8> {
        let mut links = vec![Link {
            rel: "self".into(),
            href: "x".into(),
        }];
        if next {
            links.push(Link {
                rel: "next".into(),
                href: "y".into(),
            });
        }
        Paged {
            links,
            page: 1,
            page_size: 2,
            total,
            items: vec![0; items],
        }
    }

    #[test]
    fn stops_on_short_page_missing_link_or_total() {
        assert!(has_next(&page(2, 5, true), 2, 2));
        assert!(!has_next(&page(1, 5, true), 2, 1));
        assert!(!has_next(&page(2, 5, false), 2, 2));
        assert!(!has_next(&page(2, 4, true), 2, 4));
        assert!(!has_next(&page(0, 4, true), 2, 0));
    }

    #[test]
    fn object_types_are_plain_segments() {
        assert!(check_object_type("test-step-logs").is_ok());
        assert!(check_object_type("../x").is_err());
        assert!(check_object_type("").is_err());
    }
}
