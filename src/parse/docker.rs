//! Docker Engine API JSON (`/containers/json`, `/containers/{id}/json`), read into the few
//! fields the checks use. Anything missing or malformed is simply absent.

use serde_json::Value;

/// A container as `/containers/json` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub id: String,
    /// Without the leading `/`.
    pub name: String,
    /// `running`, `exited`, `paused`, `created`, …
    pub state: String,
}

pub fn containers(list: &Value) -> Vec<Listed> {
    list.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| {
                    Some(Listed {
                        id: c.get("Id")?.as_str()?.to_string(),
                        name: c
                            .get("Names")
                            .and_then(|n| n.get(0))
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .trim_start_matches('/')
                            .to_string(),
                        state: c
                            .get("State")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `GraphDriver.Data.MergedDir` of an inspected container: where its root filesystem is mounted.
pub fn merged_dir(inspect: &Value) -> Option<String> {
    inspect
        .pointer("/GraphDriver/Data/MergedDir")
        .and_then(Value::as_str)
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_api_shape_and_ignores_garbage() {
        let list = serde_json::json!([
            {"Id": "abc", "Names": ["/web"], "State": "running"},
            {"Id": 5},
            {"Names": ["/x"]}
        ]);
        assert_eq!(
            containers(&list),
            vec![Listed {
                id: "abc".into(),
                name: "web".into(),
                state: "running".into()
            }]
        );
        assert!(containers(&serde_json::json!({"message": "nope"})).is_empty());
        let inspect =
            serde_json::json!({"GraphDriver": {"Name": "overlay2", "Data": {"MergedDir": "/m"}}});
        assert_eq!(merged_dir(&inspect).as_deref(), Some("/m"));
        assert_eq!(merged_dir(&serde_json::json!([])), None);
    }
}
