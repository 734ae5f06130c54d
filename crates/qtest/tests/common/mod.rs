//! Shared test set-up: a qTest mock on 127.0.0.1:0 and clients pointed at it.
#![allow(dead_code)]

use std::sync::Arc;
use ztoq_mock::qtest::{QtestMockConfig, QtestState, router};
use ztoq_qtest::{ClientOptions, QtestAuth, QtestClient, Secret};

/// A running mock: its base URL and state.
pub struct Mock {
    pub base: String,
    pub state: Arc<QtestState>,
    pub config: QtestMockConfig,
}

pub async fn start() -> Mock {
    let config = QtestMockConfig {
        project_id: 42,
        project_name: "Acme".into(),
        token: "tok-123".into(),
        username: "alice@example.com".into(),
        password: "s3cret".into(),
    };
    let state = QtestState::new(config.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Mock {
        base: format!("http://{addr}"),
        state,
        config,
    }
}

impl Mock {
    pub async fn client(&self) -> QtestClient {
        QtestClient::connect(
            &self.base,
            self.config.project_id,
            QtestAuth::Token(Secret::new(&self.config.token)),
            &ClientOptions::default(),
        )
        .await
        .unwrap()
    }

    pub async fn login(&self) -> QtestClient {
        let auth = QtestAuth::Password {
            username: self.config.username.clone(),
            password: Secret::new(&self.config.password),
            client_name: "acme".into(),
        };
        QtestClient::connect(
            &self.base,
            self.config.project_id,
            auth,
            &ClientOptions::default(),
        )
        .await
        .unwrap()
    }

    /// A raw HTTP client for protocol-level checks.
    pub fn raw(&self) -> reqwest::Client {
        ztoq_http::build_client(ztoq_http::Api::Qtest, &ClientOptions::default()).unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!(
            "{}/api/v3/projects/{}{}",
            self.base, self.config.project_id, path
        )
    }
}
