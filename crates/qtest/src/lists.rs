//! The list endpoints of test cases, test runs and test logs: one page at a time, or every page
//! (`all_*`), each decoded into the model types or, with the `_as` variants, into any type the
//! caller names — a reader that compares a few fields (`ztoq verify`) decodes only those and
//! leaves the rest of each item (names, colours, links, step texts) unallocated.
//!
//! Paging differs per endpoint: test cases take `page`/`size` and answer a plain array (the
//! walk stops on a short page); runs and logs take `page`/`pageSize` and answer
//! `{links, page, page_size, total, items}` (the walk stops on a short or empty page, a missing
//! `next` link or the total reached, whichever comes first).

use crate::client::{QtestClient, RunParent};
use crate::endpoints::has_next;
use serde::de::DeserializeOwned;
use ztoq_http::ApiError;
use ztoq_model::qtest::{Paged, TestCase, TestLog, TestRun};

impl QtestClient {
    /// `GET …/test-cases?parentId=&page=&size=&expandSteps=true&expandProps=true` (one page).
    pub async fn test_cases(
        &self,
        parent_id: Option<i64>,
        page: i64,
        size: i64,
    ) -> Result<Vec<TestCase>, ApiError> {
        self.test_cases_as(parent_id, page, size).await
    }

    /// [`QtestClient::test_cases`], each item decoded as a `T`.
    pub async fn test_cases_as<T: DeserializeOwned>(
        &self,
        parent_id: Option<i64>,
        page: i64,
        size: i64,
    ) -> Result<Vec<T>, ApiError> {
        let mut query = vec![
            ("page", page.to_string()),
            ("size", size.to_string()),
            ("expandSteps", "true".to_string()),
            ("expandProps", "true".to_string()),
        ];
        if let Some(p) = parent_id {
            query.push(("parentId", p.to_string()));
        }
        self.get_json("get_test_cases", "/test-cases", &query).await
    }

    /// `GET …/test-runs?parentId=&parentType=&page=&pageSize=` (one page).
    pub async fn test_runs(
        &self,
        parent: RunParent,
        page: i64,
        page_size: i64,
    ) -> Result<Paged<TestRun>, ApiError> {
        self.test_runs_as(parent, page, page_size).await
    }

    /// [`QtestClient::test_runs`], each item decoded as a `T`.
    pub async fn test_runs_as<T: DeserializeOwned>(
        &self,
        parent: RunParent,
        page: i64,
        page_size: i64,
    ) -> Result<Paged<T>, ApiError> {
        let mut query = parent.query().to_vec();
        query.push(("page", page.to_string()));
        query.push(("pageSize", page_size.to_string()));
        self.get_json("get_test_runs", "/test-runs", &query).await
    }

    /// `GET …/test-runs/{runId}/test-logs?page=&pageSize=` (one page).
    pub async fn test_logs(
        &self,
        run_id: i64,
        page: i64,
        page_size: i64,
    ) -> Result<Paged<TestLog>, ApiError> {
        self.test_logs_as(run_id, page, page_size).await
    }

    /// [`QtestClient::test_logs`], each item decoded as a `T`.
    pub async fn test_logs_as<T: DeserializeOwned>(
        &self,
        run_id: i64,
        page: i64,
        page_size: i64,
    ) -> Result<Paged<T>, ApiError> {
        let query = [
            ("page", page.to_string()),
            ("pageSize", page_size.to_string()),
        ];
        self.get_json(
            "get_test_logs",
            &format!("/test-runs/{run_id}/test-logs"),
            &query,
        )
        .await
    }

    /// Every test case (with steps and properties) of a module, or of the project.
    pub async fn all_test_cases(&self, parent_id: Option<i64>) -> Result<Vec<TestCase>, ApiError> {
        self.all_test_cases_as(parent_id).await
    }

    /// [`QtestClient::all_test_cases`], each item decoded as a `T`.
    pub async fn all_test_cases_as<T: DeserializeOwned>(
        &self,
        parent_id: Option<i64>,
    ) -> Result<Vec<T>, ApiError> {
        let size = self.page_size;
        let mut out = Vec::new();
        for page in 1.. {
            let batch = self.test_cases_as(parent_id, page, size).await?;
            let done = (batch.len() as i64) < size;
            out.extend(batch);
            if done {
                break;
            }
        }
        Ok(out)
    }

    /// Every test run directly under `parent`.
    pub async fn all_test_runs(&self, parent: RunParent) -> Result<Vec<TestRun>, ApiError> {
        self.all_test_runs_as(parent).await
    }

    /// [`QtestClient::all_test_runs`], each item decoded as a `T`.
    pub async fn all_test_runs_as<T: DeserializeOwned>(
        &self,
        parent: RunParent,
    ) -> Result<Vec<T>, ApiError> {
        let size = self.page_size;
        let mut out = Vec::new();
        for page in 1.. {
            let batch = self.test_runs_as(parent, page, size).await?;
            let more = has_next(&batch, size, out.len() + batch.items.len());
            out.extend(batch.items);
            if !more {
                break;
            }
        }
        Ok(out)
    }

    /// Every test log of a run.
    pub async fn all_test_logs(&self, run_id: i64) -> Result<Vec<TestLog>, ApiError> {
        self.all_test_logs_as(run_id).await
    }

    /// [`QtestClient::all_test_logs`], each item decoded as a `T`.
    pub async fn all_test_logs_as<T: DeserializeOwned>(
        &self,
        run_id: i64,
    ) -> Result<Vec<T>, ApiError> {
        let size = self.page_size;
        let mut out = Vec::new();
        for page in 1.. {
            let batch = self.test_logs_as(run_id, page, size).await?;
            let more = has_next(&batch, size, out.len() + batch.items.len());
            out.extend(batch.items);
            if !more {
                break;
            }
        }
        Ok(out)
    }
}
