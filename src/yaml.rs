//! Every YAML parse in leakpress goes through here, so that replacing the archived
//! `serde_yaml` with a maintained fork touches this one file.

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// Parses `text` into `T`. The error message carries the line and column.
pub(crate) fn from_str<T: DeserializeOwned>(text: &str) -> Result<T> {
    serde_yaml::from_str(text).map_err(|err| Error::Yaml(err.to_string()))
}

/// A loosely typed YAML value, for front-matter keys leakpress does not know.
pub(crate) type Value = serde_yaml::Value;

/// Renders a loose YAML scalar or sequence as display text.
pub(crate) fn display(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Sequence(items) => items.iter().map(display).collect::<Vec<_>>().join(", "),
        Value::Mapping(map) => map
            .iter()
            .map(|(k, v)| format!("{}: {}", display(k), display(v)))
            .collect::<Vec<_>>()
            .join("; "),
        Value::Tagged(tagged) => display(&tagged.value),
    }
}
