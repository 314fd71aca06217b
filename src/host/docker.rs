//! The Docker Engine API over its unix socket, through bollard. Answers are kept as the API's own
//! JSON so that they can be recorded, replayed and parsed the same way from every source.

use std::time::Duration;

use bollard::query_parameters::{InspectContainerOptions, ListContainersOptions};
use bollard::{API_DEFAULT_VERSION, Docker};
use serde::Serialize;
use serde_json::Value;

use super::HostError;

/// What the doctor asks the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "call", content = "arg", rename_all = "snake_case")]
pub enum DockerCall {
    /// `GET /containers/json?all=1`
    Containers,
    /// `GET /containers/{id}/json`
    Inspect(String),
    /// `GET /system/df`
    SystemDf,
    /// `GET /version`
    Version,
}

impl DockerCall {
    pub fn describe(&self) -> String {
        match self {
            DockerCall::Containers => "GET /containers/json?all=1".into(),
            DockerCall::Inspect(id) => format!("GET /containers/{id}/json"),
            DockerCall::SystemDf => "GET /system/df".into(),
            DockerCall::Version => "GET /version".into(),
        }
    }
}

/// Makes one call on the engine listening at `socket`, giving up after `timeout`.
pub fn call(socket: &str, call: &DockerCall, timeout: Duration) -> Result<Value, HostError> {
    let what = format!("{socket}: {}", call.describe());
    if !std::path::Path::new(socket).exists() {
        return Err(HostError::NotFound(socket.to_string()));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| HostError::Io(format!("{what}: {e}")))?;
    let docker = Docker::connect_with_unix(socket, timeout.as_secs().max(1), API_DEFAULT_VERSION)
        .map_err(|e| HostError::Io(format!("{what}: {e}")))?;
    let request = async {
        match call {
            DockerCall::Containers => {
                let opts = ListContainersOptions {
                    all: true,
                    ..Default::default()
                };
                docker
                    .list_containers(Some(opts))
                    .await
                    .map(serde_json::to_value)
            }
            DockerCall::Inspect(id) => docker
                .inspect_container(id, None::<InspectContainerOptions>)
                .await
                .map(serde_json::to_value),
            DockerCall::SystemDf => docker.df(None).await.map(serde_json::to_value),
            DockerCall::Version => docker.version().await.map(serde_json::to_value),
        }
    };
    let answer = runtime
        .block_on(async { tokio::time::timeout(timeout, request).await })
        .map_err(|_| HostError::Timeout(what.clone(), timeout.as_secs().max(1)))?;
    match answer {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(HostError::Io(format!("{what}: {e}"))),
        Err(e) => Err(classify(&what, e)),
    }
}

fn classify(what: &str, e: bollard::errors::Error) -> HostError {
    let text = e.to_string();
    if text.contains("Permission denied") {
        HostError::PermissionDenied(what.to_string())
    } else if text.contains("Timeout") || text.contains("timed out") {
        HostError::Timeout(what.to_string(), 5)
    } else {
        HostError::Io(format!("{what}: {text}"))
    }
}
