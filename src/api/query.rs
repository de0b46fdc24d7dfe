//! Query strings read as the structs that also document them (`IntoParams`): every field an
//! `Option<String>`, so each handler keeps its own messages for bad values and unknown names.

use std::collections::HashMap;

use serde::de::DeserializeOwned;
use serde_aux::serde_introspection::serde_introspect;
use serde_json::Value;

use super::error::{ApiError, ErrorCode};

/// The query string's parameters; a repeated one keeps its last value.
pub fn parameters(query_string: &str) -> Result<HashMap<String, String>, ApiError> {
    serde_urlencoded::from_str(query_string).map_err(|_| {
        ApiError::new(
            ErrorCode::InvalidArgument,
            "the query string is not valid form encoding (name=value&name=value)",
        )
    })
}

/// The parameters `T` has fields for (serde's names, in declaration order).
pub fn accepted<T: DeserializeOwned>() -> &'static [&'static str] {
    serde_introspect::<T>()
}

/// The first parameter `T` has no field for.
pub fn unknown<T: DeserializeOwned>(parameters: &HashMap<String, String>) -> Option<&str> {
    let accepted = accepted::<T>();
    parameters
        .keys()
        .map(String::as_str)
        .find(|name| !accepted.contains(name))
}

/// A 400 `unknown_argument` for the first parameter `T` has no field for, naming those it has:
/// a misspelt `?limt=` must not silently answer as if it were not there, as with body arguments.
pub fn refuse_unknown<T: DeserializeOwned>(
    parameters: &HashMap<String, String>,
) -> Result<(), ApiError> {
    match unknown::<T>(parameters) {
        None => Ok(()),
        Some(name) => Err(ApiError::new(
            ErrorCode::UnknownArgument,
            format!(
                "unknown query parameter {name:?}: accepted are {}",
                accepted::<T>().join(", ")
            ),
        )),
    }
}

/// The parameters as `T`, ignoring those it has no field for.
pub fn typed<T: DeserializeOwned>(parameters: &HashMap<String, String>) -> Result<T, ApiError> {
    let accepted = accepted::<T>();
    let object = parameters
        .iter()
        .filter(|(name, _)| accepted.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), Value::String(value.clone())))
        .collect();
    serde_json::from_value(Value::Object(object)).map_err(ApiError::internal)
}

/// A `limit` parameter, when given: a whole number from 1 to `max`.
pub fn limit(raw: Option<&str>, max: usize) -> Result<Option<usize>, ApiError> {
    raw.map(|raw| {
        raw.parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidArgument,
                    format!("limit must be a whole number from 1 to {max}"),
                )
            })
    })
    .transpose()
}
