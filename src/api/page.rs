//! `?limit=N&offset=M` on the top-level lists, an extension the contract allows (§2 "Lists").
//! Without them a list is every object, oldest first, as the contract's default. Any other
//! query parameter is a 400, as on every operation that takes query parameters.

use std::collections::HashMap;
use std::future::{ready, Ready};

use actix_web::{dev::Payload, FromRequest, HttpRequest};
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::{ApiError, ErrorCode};
use super::query;
use crate::store::Page;

/// The paging parameters, for the OpenAPI document; `Page` reads the query itself so that a bad
/// value gets a message naming the parameter.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// At most this many objects (an extension; default: all).
    #[param(value_type = Option<u64>, minimum = 0)]
    limit: Option<String>,
    /// Skip this many objects first, counted oldest first (an extension; default 0).
    #[param(value_type = Option<u64>, minimum = 0)]
    offset: Option<String>,
}

fn parse(query: &HashMap<String, String>) -> Result<Page, ApiError> {
    query::refuse_unknown::<PageQuery>(query)?;
    let PageQuery { limit, offset } = query::typed(query)?;
    let number = |name: &str, value: Option<String>| -> Result<Option<u64>, ApiError> {
        value
            .map(|raw| {
                raw.parse::<u64>()
                    .ok()
                    .filter(|n| i64::try_from(*n).is_ok())
                    .ok_or_else(|| {
                        ApiError::new(ErrorCode::InvalidArgument,
                            format!(
                                "{name} must be a whole number from 0 up, e.g. {name}=100; got {raw:?}"
                            ),
                        )
                    })
            })
            .transpose()
    };
    Ok(Page {
        limit: number("limit", limit)?,
        offset: number("offset", offset)?.unwrap_or(0),
        after: None,
    })
}

impl FromRequest for Page {
    type Error = ApiError;
    type Future = Ready<Result<Page, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(query::parameters(req.query_string()).and_then(|query| parse(&query)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(pairs: &[(&str, &str)]) -> Result<Page, ApiError> {
        parse(
            &pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn limit_and_offset_are_read_and_bad_values_refused() {
        let p = page(&[("limit", "10"), ("offset", "20")]).unwrap();
        assert_eq!((p.limit, p.offset), (Some(10), 20));
        let p = page(&[]).unwrap();
        assert_eq!((p.limit, p.offset), (None, 0));
        let e = page(&[("limt", "10")]).unwrap_err();
        assert!(
            e.to_string()
                .contains("unknown query parameter \"limt\": accepted are limit, offset"),
            "{e}"
        );
        for bad in ["-1", "ten", "", "1.5", "18446744073709551615"] {
            let e = page(&[("limit", bad)]).unwrap_err();
            assert!(
                e.to_string().contains("limit must be a whole number"),
                "{bad}: {e}"
            );
        }
    }
}
