//! [`ZephyrClient`]: one method per Zephyr v2 read the migration needs, each a named operation
//! for errors and metrics (`get_project`, `list_folders`, `get_test_steps`,
//! `download_attachment`, …).
//!
//! Invariant: the bearer token is only ever put in the `Authorization` header (never in a URL
//! or a message), and every response is checked by `ztoq_http::send`.

use crate::decode::read_entity;
use crate::paging::Pager;
use bytes::{Bytes, BytesMut};
use reqwest::header;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use url::Url;
use ztoq_http::{Api, ApiError, ClientOptions, Secret, build_client, send};
use ztoq_model::zephyr::{
    AttachmentList, AttachmentRef, ExecutionStep, Folder, OptionValue, Project, TestCase,
    TestCycle, TestExecution, TestStep,
};

const API: Api = Api::Zephyr;

/// The content of a downloaded attachment.
#[derive(Debug, Clone, PartialEq)]
pub struct Download {
    /// The whole body.
    pub bytes: Bytes,
    /// `Content-Type` as sent (`application/octet-stream` when absent).
    pub content_type: String,
}

/// An attachment larger than the caller accepts: its body was not read (or read only up to
/// the limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge {
    /// Its size: exact when the server sent `Content-Length`, else the bytes read before
    /// giving up (a lower bound).
    pub bytes: u64,
    /// Whether `bytes` is the exact size.
    pub exact: bool,
    /// The limit it exceeds.
    pub limit: u64,
}

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.exact {
            write!(
                f,
                "{} bytes, over the limit of {} bytes",
                self.bytes, self.limit
            )
        } else {
            write!(f, "more than the limit of {} bytes", self.limit)
        }
    }
}

struct Inner {
    http: reqwest::Client,
    /// The API base, always ending in `/` (e.g. `https://api.zephyrscale.smartbear.com/v2/`).
    base: Url,
    token: Secret,
}

/// A Zephyr Scale Cloud v2 client; cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct ZephyrClient {
    inner: Arc<Inner>,
    page_size: u32,
}

impl std::fmt::Debug for ZephyrClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZephyrClient")
            .field("base", &self.inner.base.as_str())
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

fn config_error(message: String) -> ApiError {
    ApiError::Config {
        api: API.as_str(),
        message,
    }
}

impl ZephyrClient {
    /// A client for `base_url` (the `/v2` root, with or without a trailing slash), sending
    /// `token` as a bearer token.
    pub fn new(base_url: &str, token: Secret, options: &ClientOptions) -> Result<Self, ApiError> {
        let mut base = Url::parse(base_url.trim())
            .map_err(|e| config_error(format!("invalid base URL '{base_url}': {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(config_error(format!(
                "base URL '{base_url}' is not an http(s) URL"
            )));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(config_error(format!(
                "base URL '{base_url}' must not have a query"
            )));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        if token.is_empty() {
            return Err(config_error("the Zephyr API token is empty".to_string()));
        }
        let http = build_client(API, options)?;
        Ok(ZephyrClient {
            inner: Arc::new(Inner { http, base, token }),
            page_size: 1000,
        })
    }

    /// Sets the page size asked of list endpoints (default 1000, the documented maximum; at
    /// least 1). The server may serve fewer per page; the pagers follow what it answers.
    pub fn with_page_size(mut self, n: u32) -> Self {
        self.page_size = n.max(1);
        self
    }

    /// The page size asked of list endpoints.
    pub fn page_size(&self) -> u32 {
        self.page_size
    }

    /// The API base URL (ends in `/`).
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// `base` + percent-encoded path segments.
    pub(crate) fn url(&self, segments: &[&str]) -> Result<Url, ApiError> {
        let mut url = self.inner.base.clone();
        url.path_segments_mut()
            .map_err(|()| config_error("base URL cannot take a path".to_string()))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// An authenticated GET.
    pub(crate) fn get(&self, url: Url) -> reqwest::RequestBuilder {
        self.inner
            .http
            .get(url)
            .bearer_auth(self.inner.token.expose())
    }

    async fn get_json<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        segments: &[&str],
    ) -> Result<T, ApiError> {
        let request = self
            .get(self.url(segments)?)
            .header(header::ACCEPT, "application/json");
        let what = segments.join("/");
        read_entity(operation, &what, send(API, operation, request).await?).await
    }

    fn pager<T>(
        &self,
        operation: &'static str,
        segments: &[&str],
        query: &[(&str, &str)],
        cursor: bool,
    ) -> Pager<T> {
        let url = self.url(segments).map(|mut url| {
            url.query_pairs_mut().extend_pairs(query);
            url
        });
        if cursor {
            Pager::cursor(self.clone(), operation, url)
        } else {
            Pager::offset(self.clone(), operation, url)
        }
    }

    /// `GET /healthcheck`.
    pub async fn healthcheck(&self) -> Result<(), ApiError> {
        send(API, "healthcheck", self.get(self.url(&["healthcheck"])?))
            .await
            .map(drop)
    }

    /// `GET /projects/{key}`.
    pub async fn project(&self, key: &str) -> Result<Project, ApiError> {
        self.get_json("get_project", &["projects", key]).await
    }

    /// All folders of the project, of every type (offset paging).
    pub fn folders(&self, project_key: &str) -> Pager<Folder> {
        self.pager(
            "list_folders",
            &["folders"],
            &[("projectKey", project_key)],
            false,
        )
    }

    /// All statuses of one `statusType` (`TEST_CASE`, `TEST_CYCLE`, `TEST_EXECUTION`, …).
    pub async fn statuses(
        &self,
        project_key: &str,
        status_type: &str,
    ) -> Result<Vec<OptionValue>, ApiError> {
        let query = [("projectKey", project_key), ("statusType", status_type)];
        self.pager("list_statuses", &["statuses"], &query, false)
            .collect_all()
            .await
    }

    /// All priorities.
    pub async fn priorities(&self, project_key: &str) -> Result<Vec<OptionValue>, ApiError> {
        self.pager(
            "list_priorities",
            &["priorities"],
            &[("projectKey", project_key)],
            false,
        )
        .collect_all()
        .await
    }

    /// All environments.
    pub async fn environments(&self, project_key: &str) -> Result<Vec<OptionValue>, ApiError> {
        self.pager(
            "list_environments",
            &["environments"],
            &[("projectKey", project_key)],
            false,
        )
        .collect_all()
        .await
    }

    /// All test cases (`/testcases/nextgen`, cursor paging).
    pub fn test_cases(&self, project_key: &str) -> Pager<TestCase> {
        self.pager(
            "list_test_cases",
            &["testcases", "nextgen"],
            &[("projectKey", project_key)],
            true,
        )
    }

    /// All test cycles (`/testcycles`, offset paging).
    pub fn test_cycles(&self, project_key: &str) -> Pager<TestCycle> {
        self.pager(
            "list_test_cycles",
            &["testcycles"],
            &[("projectKey", project_key)],
            false,
        )
    }

    /// All executions, history included (`/testexecutions/nextgen`, cursor paging).
    pub fn executions(&self, project_key: &str) -> Pager<TestExecution> {
        self.pager(
            "list_executions",
            &["testexecutions", "nextgen"],
            &[("projectKey", project_key)],
            true,
        )
    }

    /// `GET /testcases/{key}`.
    pub async fn test_case(&self, key: &str) -> Result<TestCase, ApiError> {
        self.get_json("get_test_case", &["testcases", key]).await
    }

    /// `GET /testcycles/{idOrKey}`.
    pub async fn test_cycle(&self, id_or_key: &str) -> Result<TestCycle, ApiError> {
        self.get_json("get_test_cycle", &["testcycles", id_or_key])
            .await
    }

    /// `GET /testexecutions/{idOrKey}`.
    pub async fn execution(&self, id_or_key: &str) -> Result<TestExecution, ApiError> {
        self.get_json("get_execution", &["testexecutions", id_or_key])
            .await
    }

    /// Every step of a test case, read to the last page.
    pub async fn test_steps(&self, test_case_key: &str) -> Result<Vec<TestStep>, ApiError> {
        self.pager(
            "get_test_steps",
            &["testcases", test_case_key, "teststeps"],
            &[],
            false,
        )
        .collect_all()
        .await
    }

    /// Every step result of an execution, read to the last page.
    pub async fn execution_steps(
        &self,
        execution_id_or_key: &str,
    ) -> Result<Vec<ExecutionStep>, ApiError> {
        self.pager(
            "get_execution_steps",
            &["testexecutions", execution_id_or_key, "teststeps"],
            &[],
            false,
        )
        .collect_all()
        .await
    }

    async fn attachments(&self, segments: &[&str]) -> Result<Vec<AttachmentRef>, ApiError> {
        const OP: &str = "list_attachments";
        let request = self
            .get(self.url(segments)?)
            .header(header::ACCEPT, "application/json");
        match send(API, OP, request).await {
            Ok(response) => Ok(
                read_entity::<AttachmentList>(OP, &segments.join("/"), response)
                    .await?
                    .attachments,
            ),
            // The real API answers 404 "has no attachment metadata" for an empty list.
            Err(e) if e.status() == Some(404) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// The attachments of a test case; none when the API answers 404.
    pub async fn test_case_attachments(&self, key: &str) -> Result<Vec<AttachmentRef>, ApiError> {
        self.attachments(&["testcases", key, "attachments"]).await
    }

    /// The attachments of an execution; none when the API answers 404.
    pub async fn execution_attachments(
        &self,
        id_or_key: &str,
    ) -> Result<Vec<AttachmentRef>, ApiError> {
        self.attachments(&["testexecutions", id_or_key, "attachments"])
            .await
    }

    async fn download(
        &self,
        segments: &[&str],
        limit: u64,
    ) -> Result<Result<Download, TooLarge>, ApiError> {
        const OP: &str = "download_attachment";
        // reqwest follows redirects and drops `Authorization` when one leaves the host.
        let mut response = send(API, OP, self.get(self.url(segments)?)).await?;
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/octet-stream")
            .to_string();
        let expected = response.content_length();
        if let Some(n) = expected
            && n > limit
        {
            // Dropping the response closes the connection: the body is never read.
            return Ok(Err(TooLarge {
                bytes: n,
                exact: true,
                limit,
            }));
        }
        let truncated = |message: String| ApiError::Transport {
            api: API.as_str(),
            operation: OP,
            message,
            maybe_applied: true,
        };
        // Sized from Content-Length, but never trusting it for more than 64 MB up front.
        let capacity = expected.unwrap_or(0).min(limit).min(64 << 20);
        let mut body = BytesMut::with_capacity(capacity as usize);
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| truncated(format!("reading body: {}", ztoq_http::error_chain(&e))))?
        {
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Ok(Err(TooLarge {
                    bytes: body.len() as u64 + chunk.len() as u64,
                    exact: false,
                    limit,
                }));
            }
            body.extend_from_slice(&chunk);
        }
        let bytes = body.freeze();
        if let Some(n) = expected
            && n != bytes.len() as u64
        {
            return Err(truncated(format!(
                "body cut short: {} of {n} bytes",
                bytes.len()
            )));
        }
        Ok(Ok(Download {
            bytes,
            content_type,
        }))
    }

    fn whole(result: Result<Download, TooLarge>) -> Download {
        match result {
            Ok(d) => d,
            // Unreachable with a limit of u64::MAX.
            Err(_) => Download {
                bytes: Bytes::new(),
                content_type: String::new(),
            },
        }
    }

    /// Downloads one attachment of a test case.
    pub async fn download_test_case_attachment(
        &self,
        key: &str,
        attachment_id: i64,
    ) -> Result<Download, ApiError> {
        self.download_test_case_attachment_within(key, attachment_id, u64::MAX)
            .await
            .map(Self::whole)
    }

    /// Downloads one attachment of a test case unless it is larger than `limit` bytes (then
    /// its body is not read: checked against `Content-Length` first, and while reading).
    pub async fn download_test_case_attachment_within(
        &self,
        key: &str,
        attachment_id: i64,
        limit: u64,
    ) -> Result<Result<Download, TooLarge>, ApiError> {
        self.download(
            &["testcases", key, "attachments", &attachment_id.to_string()],
            limit,
        )
        .await
    }

    /// Downloads one attachment of an execution.
    pub async fn download_execution_attachment(
        &self,
        id_or_key: &str,
        attachment_id: i64,
    ) -> Result<Download, ApiError> {
        self.download_execution_attachment_within(id_or_key, attachment_id, u64::MAX)
            .await
            .map(Self::whole)
    }

    /// Downloads one attachment of an execution unless it is larger than `limit` bytes.
    pub async fn download_execution_attachment_within(
        &self,
        id_or_key: &str,
        attachment_id: i64,
        limit: u64,
    ) -> Result<Result<Download, TooLarge>, ApiError> {
        self.download(
            &[
                "testexecutions",
                id_or_key,
                "attachments",
                &attachment_id.to_string(),
            ],
            limit,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base: &str) -> Result<ZephyrClient, ApiError> {
        ZephyrClient::new(base, Secret::new("t"), &ClientOptions::default())
    }

    #[test]
    fn base_url_with_or_without_slash() {
        for base in ["http://127.0.0.1:9/v2", "http://127.0.0.1:9/v2/"] {
            let c = client(base).unwrap();
            assert_eq!(
                c.url(&["testcases", "A-T1", "teststeps"]).unwrap().as_str(),
                "http://127.0.0.1:9/v2/testcases/A-T1/teststeps"
            );
        }
        assert_eq!(
            client("http://h/v2")
                .unwrap()
                .url(&["a b/c"])
                .unwrap()
                .as_str(),
            "http://h/v2/a%20b%2Fc"
        );
        assert!(client("not a url").is_err());
        assert!(client("ftp://h/v2").is_err());
        assert!(
            ZephyrClient::new("http://h/v2", Secret::new(""), &ClientOptions::default()).is_err()
        );
    }

    #[test]
    fn page_size_is_bounded() {
        let c = client("http://h/v2").unwrap();
        assert_eq!(c.page_size(), 1000);
        assert_eq!(c.clone().with_page_size(0).page_size(), 1);
        assert_eq!(c.with_page_size(5000).page_size(), 5000);
    }
}
