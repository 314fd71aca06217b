//! The Docker Engine API over its unix socket, through hyper. Requests are unversioned, so each
//! engine answers in its own API version, and answers are kept as raw JSON: typed clients for the
//! newest API drop what older engines send (`/system/df`'s `BuildCache` became `BuildCacheUsage`).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use hyperlocal::UnixConnector;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::HostError;

/// The largest answer read from the engine.
const MAX_ANSWER: usize = 64 << 20;

/// What the doctor asks the engine.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "call", content = "arg", rename_all = "snake_case")]
pub enum DockerCall {
    /// `GET /containers/json?all=1`
    Containers,
    /// `GET /containers/{id}/json`
    Inspect(String),
    /// `GET /system/df?type=build-cache&verbose=1`: only the build cache (API 1.42+ computes
    /// nothing else), with its records (1.52+ lists them only when asked `verbose`; older
    /// engines ignore both parameters).
    SystemDf,
    /// `GET /version`
    Version,
    /// `GET /info`: storage driver, security options (rootless), swarm state, and the engine's
    /// own data root (`DockerRootDir`), whatever its flags said.
    Info,
}

impl DockerCall {
    /// The request path.
    pub fn path(&self) -> String {
        match self {
            DockerCall::Containers => "/containers/json?all=1".into(),
            DockerCall::Inspect(id) => format!("/containers/{id}/json"),
            DockerCall::SystemDf => "/system/df?type=build-cache&verbose=1".into(),
            DockerCall::Version => "/version".into(),
            DockerCall::Info => "/info".into(),
        }
    }
}

/// Makes one call on the engine listening at `socket`, giving up after `timeout`.
pub fn call(socket: &str, call: &DockerCall, timeout: Duration) -> Result<Value, HostError> {
    let what = format!("{socket}: GET {}", call.path());
    // A plain connect first tells "no engine" and "not allowed" apart with the OS's own words.
    std::os::unix::net::UnixStream::connect(socket).map_err(|e| HostError::from_io(socket, &e))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| HostError::Io(format!("{what}: {e}")))?;
    let client: Client<UnixConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build(UnixConnector);
    let uri: hyper::Uri = hyperlocal::Uri::new(socket, &call.path()).into();
    let request = async {
        let response = client
            .get(uri)
            .await
            .map_err(|e| HostError::Io(format!("{what}: {e}")))?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| HostError::Io(format!("{what}: {e}")))?
            .to_bytes();
        if !status.is_success() {
            let message = String::from_utf8_lossy(&body);
            return Err(HostError::Io(format!(
                "{what}: {status}: {}",
                message.trim()
            )));
        }
        serde_json::from_slice(&body).map_err(|e| HostError::Io(format!("{what}: not JSON: {e}")))
    };
    let seconds = timeout.as_secs().max(1);
    runtime
        .block_on(async { tokio::time::timeout(timeout, request).await })
        .map_err(|_| HostError::Timeout(what.clone(), seconds))?
}
