//! [`QtestClient`]: connection set-up (base URL, bearer token or password login through
//! `POST /oauth/token`) and the request helpers every endpoint uses.

use base64::Engine as _;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::sync::Arc;
use ztoq_http::pace::Pacer;
use ztoq_http::{Api, ApiError, ClientOptions, Secret, build_client, read_json, send};
use ztoq_model::qtest::OAuthResponse;

/// How to authenticate against qTest.
#[derive(Debug, Clone)]
pub enum QtestAuth {
    /// A bearer token from qTest's "API & SDK" page.
    Token(Secret),
    /// Username and password, exchanged for a token with `POST /oauth/token`.
    Password {
        /// Login name.
        username: String,
        /// Password.
        password: Secret,
        /// Client (site) name sent as `Authorization: Basic base64("<client_name>:")`.
        client_name: String,
    },
}

/// Where a test cycle lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CycleParent {
    /// Directly under the project's test-execution root.
    Root,
    /// Under a release.
    Release(i64),
    /// Under another test cycle.
    TestCycle(i64),
}

impl CycleParent {
    pub(crate) fn query(self) -> [(&'static str, String); 2] {
        let (id, kind) = match self {
            CycleParent::Root => (0, "root"),
            CycleParent::Release(id) => (id, "release"),
            CycleParent::TestCycle(id) => (id, "test-cycle"),
        };
        [
            ("parentId", id.to_string()),
            ("parentType", kind.to_string()),
        ]
    }
}

/// Where a test run lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunParent {
    /// Directly under the root.
    Root,
    /// Under a test cycle.
    TestCycle(i64),
    /// Under a release.
    Release(i64),
    /// Under a test suite.
    TestSuite(i64),
}

impl RunParent {
    pub(crate) fn query(self) -> [(&'static str, String); 2] {
        let (id, kind) = match self {
            RunParent::Root => (0, "root"),
            RunParent::TestCycle(id) => (id, "test-cycle"),
            RunParent::Release(id) => (id, "release"),
            RunParent::TestSuite(id) => (id, "test-suite"),
        };
        [
            ("parentId", id.to_string()),
            ("parentType", kind.to_string()),
        ]
    }
}

/// What a delete found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Deletion {
    /// qTest deleted the item (2xx).
    Deleted,
    /// qTest answered 404: the item, or the object it hangs on, no longer exists.
    AlreadyGone,
}

/// A client for one qTest project. Cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct QtestClient {
    inner: Arc<Inner>,
    pub(crate) page_size: i64,
    /// Paces every request to a rate shared with other processes (none: unpaced).
    pacer: Option<Arc<Pacer>>,
}

struct Inner {
    http: reqwest::Client,
    /// Base URL without a trailing slash, e.g. `https://acme.qtestnet.com`.
    base: String,
    project_id: i64,
    token: Secret,
}

impl fmt::Debug for QtestClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QtestClient")
            .field("base", &self.inner.base)
            .field("project_id", &self.inner.project_id)
            .field("page_size", &self.page_size)
            .field("pacer", &self.pacer)
            .finish_non_exhaustive()
    }
}

/// The page size the `all_*` helpers ask for unless told otherwise.
pub const DEFAULT_PAGE_SIZE: i64 = 100;

pub(crate) fn config_error(message: impl Into<String>) -> ApiError {
    ApiError::Config {
        api: Api::Qtest.as_str(),
        message: message.into(),
    }
}

impl QtestClient {
    /// Connects to `base_url` (e.g. `https://acme.qtestnet.com` or `http://127.0.0.1:9090`) for
    /// project `project_id`. With [`QtestAuth::Password`] it logs in first (`POST /oauth/token`);
    /// a token is not checked here: call [`QtestClient::project`] to verify it.
    pub async fn connect(
        base_url: &str,
        project_id: i64,
        auth: QtestAuth,
        options: &ClientOptions,
    ) -> Result<Self, ApiError> {
        let parsed = url::Url::parse(base_url)
            .map_err(|e| config_error(format!("invalid base URL '{base_url}': {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(config_error(format!(
                "base URL '{base_url}' must be http(s)://host[:port]"
            )));
        }
        let base = base_url.trim_end_matches('/').to_string();
        let http = build_client(Api::Qtest, options)?;
        let token = match auth {
            QtestAuth::Token(token) => token,
            QtestAuth::Password {
                username,
                password,
                client_name,
            } => login(&http, &base, &username, &password, &client_name).await?,
        };
        if token.is_empty() {
            return Err(config_error("empty qTest token"));
        }
        Ok(QtestClient {
            inner: Arc::new(Inner {
                http,
                base,
                project_id,
                token,
            }),
            page_size: DEFAULT_PAGE_SIZE,
            pacer: None,
        })
    }

    /// The same client, every request of it (and of its clones) waiting for a slot of
    /// `pacer` first: the way several processes share one qTest rate limit.
    pub fn with_pacer(mut self, pacer: Arc<Pacer>) -> Self {
        self.pacer = Some(pacer);
        self
    }

    /// Sends `request` once the pacer (if any) gives it a slot.
    async fn send(
        &self,
        operation: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ApiError> {
        if let Some(pacer) = &self.pacer {
            pacer.wait().await;
        }
        send(Api::Qtest, operation, request).await
    }

    /// The same client, with `all_*` helpers asking for `page_size` items per page (1..=999).
    pub fn with_page_size(mut self, page_size: i64) -> Self {
        self.page_size = page_size.clamp(1, 999);
        self
    }

    /// The project this client writes to.
    pub fn project_id(&self) -> i64 {
        self.inner.project_id
    }

    /// `{base}/api/v3/projects/{projectId}{path}`.
    fn url(&self, path: &str) -> String {
        format!(
            "{}/api/v3/projects/{}{}",
            self.inner.base, self.inner.project_id, path
        )
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.inner
            .http
            .request(method, self.url(path))
            .bearer_auth(self.inner.token.expose())
    }

    /// `GET` a project-scoped path and decode its JSON.
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ApiError> {
        let req = self.request(reqwest::Method::GET, path).query(query);
        let resp = self.send(operation, req).await?;
        read_json(Api::Qtest, operation, resp).await
    }

    /// `POST` a JSON body to a project-scoped path and decode the JSON answer.
    pub(crate) async fn post_json<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        operation: &'static str,
        path: &str,
        query: &[(&str, String)],
        body: &B,
    ) -> Result<T, ApiError> {
        let req = self
            .request(reqwest::Method::POST, path)
            .query(query)
            .json(body);
        let resp = self.send(operation, req).await?;
        read_json(Api::Qtest, operation, resp).await
    }

    /// `DELETE` a project-scoped path. Any 2xx is [`Deletion::Deleted`] (the body, a
    /// `Message` or nothing, is not needed); a 404 is [`Deletion::AlreadyGone`]: the item (or
    /// its owner) does not exist, which is what a repeated delete must find.
    pub(crate) async fn delete(
        &self,
        operation: &'static str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Deletion, ApiError> {
        let req = self.request(reqwest::Method::DELETE, path).query(query);
        match self.send(operation, req).await {
            Ok(resp) => {
                // The delete is done; a body cut short changes nothing.
                let _ = resp.bytes().await;
                Ok(Deletion::Deleted)
            }
            Err(e) if e.status() == Some(404) => Ok(Deletion::AlreadyGone),
            Err(e) => Err(e),
        }
    }

    /// `POST` raw bytes with extra headers and decode the JSON answer.
    pub(crate) async fn post_bytes<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        path: &str,
        headers: reqwest::header::HeaderMap,
        body: bytes::Bytes,
    ) -> Result<T, ApiError> {
        let req = self
            .request(reqwest::Method::POST, path)
            .headers(headers)
            .body(body);
        let resp = self.send(operation, req).await?;
        read_json(Api::Qtest, operation, resp).await
    }
}

/// `POST /oauth/token` with the password grant; returns the access token.
async fn login(
    http: &reqwest::Client,
    base: &str,
    username: &str,
    password: &Secret,
    client_name: &str,
) -> Result<Secret, ApiError> {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{client_name}:"));
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "password")
        .append_pair("username", username)
        .append_pair("password", password.expose())
        .finish();
    let req = http
        .post(format!("{base}/oauth/token"))
        .header(AUTHORIZATION, format!("Basic {basic}"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form);
    let resp = send(Api::Qtest, "login", req).await?;
    let answer: OAuthResponse = read_json(Api::Qtest, "login", resp).await?;
    tracing::debug!(base, username, "logged in to qTest");
    Ok(Secret::new(answer.access_token))
}
