//! `GET /api/v2/openapi.json`: the API as an OpenAPI 3.1 document, generated from the code: the
//! handlers' `#[utoipa::path]` attributes, the response views' `ToSchema` and the conventions
//! every `/api/v2` operation shares (added by `Conventions`). It needs no vendor headers.
//!
//! Drift is caught twice: a unit test below compares the documented paths and methods with the
//! route table (`api::routes::ENDPOINTS`), and the black-box test
//! `tests/api/openapi.rs` compares them with what the live server's `Allow` headers say.

use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::HttpResponse;
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Ref, RefOr, Required};
use utoipa::{Modify, OpenApi};

use super::docs::{
    BadRequest, Conflict, Forbidden, InternalError, MethodNotAllowed, NotAcceptable, NotFound,
    PayloadTooLarge, TooManyRequests, Unauthorized, UnsupportedMediaType,
};
use super::error::{ErrorBody, JSON_CONTENT_TYPE};
use super::{
    alerts, audit, connection_test, data_source, permission, person, role, schema, test_history,
    test_run, whoami,
};

/// The document's own path, relative to `/api/v2`; served without any vendor header.
pub const PATH: &str = "/openapi.json";

const DESCRIPTION: &str = "Jackal serves the JackDB v2 REST API: data sources, people, roles, \
time-limited permissions and live connection tests.

Every operation under `/api/v2` (all of them but this document) follows these conventions, \
checked in this order before routing:

- **User-Agent** is required: a missing or blank one is a 400 (`missing_user_agent`).
- **Accept**, when sent, must allow `application/vnd.jackdb.v2+json` or `application/json` \
(`*/*` and `application/*` do); anything else is a 406.
- **Authentication** is HTTP Basic with the user `<keyId>@api` and the API key's secret as the \
password; otherwise 401 with `WWW-Authenticate: Basic realm=\"jackdb\"`. Repeated failures from \
one address are slowed, then refused with 429 (`too_many_auth_failures`, with `Retry-After`).
- A **wrong method** on a known path is a 405 with an `Allow` header listing the methods the path \
has (the `MethodNotAllowed` response); an unknown path is a 404 (`route_not_found`).

Request bodies are `application/x-www-form-urlencoded` (curl `-d`) or a JSON object with the same \
keys and a string, number or boolean for each (JSON `null` is the empty string); anything else is \
a 415, over 1 MiB a 413. Unknown and repeated arguments are 400s. Every success is a 200 with a \
JSON body, and every failure answers `{\"error\": {\"message\", \"code\"}}`. Timestamps are UTC \
`YYYY-MM-DDTHH:MM:SS.mmmZ`.";

#[derive(OpenApi)]
#[openapi(
    info(title = "Jackal", version = env!("CARGO_PKG_VERSION"), description = DESCRIPTION,
        license(name = "MIT")),
    servers((url = "/api/v2", description = "Every path below is relative to /api/v2")),
    paths(
        document,
        whoami::whoami,
        audit::list,
        connection_test::test_unsaved,
        test_run::run,
        data_source::list,
        data_source::create,
        data_source::retrieve,
        data_source::update,
        data_source::delete,
        data_source::detail,
        connection_test::test_data_source,
        test_history::list,
        alerts::list,
        alerts::incidents,
        schema::refresh,
        schema::retrieve,
        role::of_data_source,
        permission::of_data_source,
        permission::delete_of_data_source,
        permission::of_pair,
        permission::grant,
        permission::delete_of_pair,
        person::list,
        person::create,
        person::retrieve,
        person::delete,
        person::lock,
        person::unlock_by_delete,
        person::unlock,
        person::reset_two_factor,
        person::data_sources,
        person::roles,
        person::permissions,
        person::delete_permissions,
        role::list,
        role::create,
        role::retrieve,
        role::delete,
        role::data_sources,
        role::add_data_source,
        role::remove_data_source,
        role::people,
        role::add_person,
        role::remove_person,
        permission::list,
        permission::retrieve,
        permission::delete,
    ),
    components(
        schemas(ErrorBody),
        responses(
            BadRequest,
            Unauthorized,
            Forbidden,
            NotFound,
            MethodNotAllowed,
            NotAcceptable,
            Conflict,
            PayloadTooLarge,
            UnsupportedMediaType,
            TooManyRequests,
            InternalError
        )
    ),
    modifiers(&Conventions),
    security(("basicAuth" = [])),
    tags(
        (name = "identity", description = "The calling API key"),
        (name = "data sources", description = "Data sources and their connection tests"),
        (name = "people", description = "People, their lock and what they can reach"),
        (name = "roles", description = "Roles grouping data sources and people"),
        (name = "permissions", description = "Time-limited grants of one data source to one person"),
        (name = "audit", description = "The audit trail (an extension)"),
        (name = "alerts", description = "Data sources' states and incidents (an extension)"),
        (name = "operations", description = "Needs no vendor headers"),
    )
)]
pub struct ApiDoc;

/// The document as served, built once.
pub fn json() -> &'static [u8] {
    static DOCUMENT: OnceLock<Vec<u8>> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
        add_links(&mut doc);
        add_secret_argument_rules(&mut doc);
        serde_json::to_vec(&doc).unwrap_or_default()
    })
}

/// This document. It needs no User-Agent, Accept or authentication.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "operations",
    security(()),
    responses((status = 200, description = "This OpenAPI 3.1 document", body = Object,
        content_type = "application/json"))
)]
pub async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, JSON_CONTENT_TYPE))
        .body(json())
}

/// What every `/api/v2` operation but this document shares: the User-Agent header, Basic
/// auth, and the error responses of the checks that run before routing. Also gives each
/// method of a multi-method handler its own operationId.
struct Conventions;

const COMMON_ERRORS: &[(&str, &str)] = &[
    ("400", "BadRequest"),
    ("401", "Unauthorized"),
    ("403", "Forbidden"),
    ("406", "NotAcceptable"),
    ("429", "TooManyRequests"),
    ("500", "InternalError"),
];

fn user_agent() -> Parameter {
    ParameterBuilder::new()
        .name("User-Agent")
        .parameter_in(ParameterIn::Header)
        .required(Required::True)
        .description(Some(
            "Required on every /api/v2 operation: name your script or tool, e.g. \
             `deploy-script/1.0`. Missing or blank: 400 `missing_user_agent`.",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("\\S"))
                .examples([serde_json::json!("deploy-script/1.0")]),
        ))
        .build()
}

/// Each documented method of a path item with its lowercase name.
pub fn operations_mut(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = (&'static str, &mut Operation)> {
    [
        ("get", &mut item.get),
        ("put", &mut item.put),
        ("post", &mut item.post),
        ("delete", &mut item.delete),
        ("options", &mut item.options),
        ("head", &mut item.head),
        ("patch", &mut item.patch),
        ("trace", &mut item.trace),
    ]
    .into_iter()
    .filter_map(|(method, op)| op.as_mut().map(|op| (method, op)))
}

impl Modify for Conventions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "basicAuth",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "HTTP Basic: the user is `<keyId>@api` (split on the last `@`), the \
                         password the API key's secret (`curl -u \"$ID@api:$SECRET\"`)",
                    ))
                    .build(),
            ),
        );
        // `#[schema(min_properties = ..)]` comes out as maxProperties in utoipa-gen 5.5.0.
        if let Some(RefOr::T(utoipa::openapi::Schema::Object(update))) =
            components.schemas.get_mut("UpdateDataSource")
        {
            update.min_properties = Some(1);
        }
        let mut seen = std::collections::HashMap::<String, usize>::new();
        for item in openapi.paths.paths.values_mut() {
            for (_, op) in operations_mut(item) {
                if let Some(id) = &op.operation_id {
                    *seen.entry(id.clone()).or_default() += 1;
                }
            }
        }
        for item in openapi.paths.paths.values_mut() {
            for (method, op) in operations_mut(item) {
                if let Some(id) = op.operation_id.as_mut() {
                    if seen.get(id.as_str()).is_some_and(|n| *n > 1) {
                        id.push('_');
                        id.push_str(method);
                    }
                }
            }
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            for (_, op) in operations_mut(item) {
                if path == PATH {
                    continue;
                }
                op.parameters
                    .get_or_insert_with(Vec::new)
                    .insert(0, user_agent());
                for (status, name) in COMMON_ERRORS {
                    op.responses
                        .responses
                        .entry((*status).to_owned())
                        .or_insert_with(|| Ref::from_response_name(*name).into());
                }
            }
        }
    }
}

/// What each creating operation's answer names, as path parameters of other operations.
const CREATED: &[(&str, &[(&str, &str)])] = &[
    ("createDataSource", &[("data_source", "$response.body#/id")]),
    ("createPerson", &[("person", "$response.body#/id")]),
    ("createRole", &[("role", "$response.body#/id")]),
    (
        "grantPermission",
        &[
            ("permission", "$response.body#/id"),
            ("data_source", "$response.body#/dataSourceId"),
            ("person", "$response.body#/personId"),
        ],
    ),
];

/// Links from each creating operation's 200 to every operation whose path parameters its answer
/// fills, so clients (and stateful testers) can follow from a new object to what it allows.
/// Added to the JSON: utoipa 5.5.0 serializes a `Link`'s `operationId` as `operation_id`.
fn add_links(doc: &mut serde_json::Value) {
    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) else {
        return;
    };
    let mut targets: Vec<(String, Vec<String>)> = Vec::new();
    for (path, item) in paths.iter() {
        let params: Vec<String> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .map(str::to_owned)
            .collect();
        for method in METHODS {
            if let Some(id) = item[method]["operationId"].as_str() {
                if !params.is_empty() {
                    targets.push((id.to_owned(), params.clone()));
                }
            }
        }
    }
    for item in paths.values_mut() {
        for method in METHODS {
            let Some(op) = item.get_mut(method) else {
                continue;
            };
            let Some((_, fills)) = CREATED
                .iter()
                .find(|(id, _)| op["operationId"].as_str() == Some(*id))
            else {
                continue;
            };
            let mut links = serde_json::Map::new();
            for (target, params) in &targets {
                let values: Option<serde_json::Map<String, serde_json::Value>> = params
                    .iter()
                    .map(|p| {
                        let (_, value) = fills.iter().find(|(name, _)| name == p)?;
                        Some((p.clone(), serde_json::json!(value)))
                    })
                    .collect();
                if let Some(values) = values {
                    links.insert(
                        target.clone(),
                        serde_json::json!({"operationId": target, "parameters": values}),
                    );
                }
            }
            if let Some(ok) = op.pointer_mut("/responses/200") {
                ok["links"] = serde_json::Value::Object(links);
            }
        }
    }
}

/// The request bodies that take the secret arguments (`api::secret_args`).
const WITH_SECRET_ARGS: [&str; 3] = ["TestUnsaved", "CreateDataSource", "UpdateDataSource"];

/// Which secret argument needs which: the TLS and SSH decoders' `…WithoutKey` and
/// `KeyWithoutCert` refusals. An empty value counts as absent, and for TLS a blank one too.
const NEEDS: [(&str, &str); 4] = [
    ("sslCert", "sslKey"),
    ("sslKey", "sslCert"),
    ("sslKeyPassword", "sslKey"),
    ("sshKeyPassphrase", "sshPrivateKey"),
];

/// The rules between the secret arguments, as JSON Schema where it can say them (one `if`/`then`
/// per rule: `dependentRequired` would count an empty value as sent) and in the description where
/// it cannot (they depend on what configUri says). Added to the JSON: utoipa 5.5.0's schemas
/// have no `if`.
fn add_secret_argument_rules(doc: &mut serde_json::Value) {
    let given = |argument: &str| {
        let value = if argument.starts_with("ssl") {
            serde_json::json!({"type": "string", "pattern": "\\S"})
        } else {
            serde_json::json!({"type": "string", "minLength": 1})
        };
        serde_json::json!({"required": [argument], "properties": {argument: value}})
    };
    let rules: Vec<serde_json::Value> = NEEDS
        .iter()
        .map(|(sent, needed)| serde_json::json!({"if": given(sent), "then": given(needed)}))
        .collect();
    for name in WITH_SECRET_ARGS {
        let Some(schema) = doc.pointer_mut(&format!("/components/schemas/{name}")) else {
            continue;
        };
        schema["allOf"] = serde_json::Value::Array(rules.clone());
        let description = schema["description"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        schema["description"] = format!("{description}{SECRET_ARGUMENT_RULES}").into();
    }
}

const SECRET_ARGUMENT_RULES: &str = "\n\nThe secret arguments go together: `sslCert` with \
`sslKey`, `sslKeyPassword` only with `sslKey`, `sshKeyPassphrase` only with `sshPrivateKey` (an \
empty value counts as not sent). TLS material needs a configUri with `ssl=true` (never SQLite), \
and not `sslRootCert` both here and in configUri; SSH secrets need a configUri with `sshHost`; \
PEM text must decode and a key must match its certificate. Otherwise: 400 naming the argument.";

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::api::routes::ENDPOINTS;

    fn methods(allow: &str) -> Vec<String> {
        let mut methods: Vec<String> = allow
            .split(',')
            .map(|m| m.trim().to_ascii_lowercase())
            .collect();
        methods.sort();
        methods
    }

    #[test]
    fn every_route_is_documented_with_exactly_its_methods() {
        let routes: BTreeMap<String, Vec<String>> = ENDPOINTS
            .iter()
            .map(|e| (e.path.to_owned(), methods(e.allow)))
            .collect();
        assert_eq!(routes.len(), ENDPOINTS.len(), "a path is listed twice");
        assert!(routes.len() > 20, "{routes:?}");
        let mut doc = ApiDoc::openapi();
        let documented: BTreeMap<String, Vec<String>> = doc
            .paths
            .paths
            .iter_mut()
            .map(|(path, item)| {
                let mut methods: Vec<String> =
                    operations_mut(item).map(|(m, _)| m.to_owned()).collect();
                methods.sort();
                (path.clone(), methods)
            })
            .collect();
        assert_eq!(routes, documented);
    }

    #[test]
    fn operation_ids_are_unique_and_every_api_operation_has_the_conventions() {
        let mut doc = ApiDoc::openapi();
        let mut ids = std::collections::HashSet::new();
        for (path, item) in doc.paths.paths.iter_mut() {
            for (method, op) in operations_mut(item) {
                let id = op.operation_id.clone().unwrap();
                assert!(ids.insert(id.clone()), "{id} twice");
                if path == PATH {
                    continue;
                }
                let params = op.parameters.as_deref().unwrap_or_default();
                assert!(
                    params.iter().any(|p| p.name == "User-Agent"),
                    "{method} {path}"
                );
                for template in path.split('/').filter(|s| s.starts_with('{')) {
                    let name = template.trim_matches(['{', '}']);
                    assert!(
                        params.iter().any(|p| p.name == name),
                        "{method} {path}: no path parameter {name}"
                    );
                }
                for status in ["200", "400", "401", "406", "429"] {
                    assert!(
                        op.responses.responses.contains_key(status),
                        "{method} {path}: {status}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_document_is_openapi_3_1_json() {
        let value: serde_json::Value = serde_json::from_slice(json()).unwrap();
        assert_eq!(value["openapi"], "3.1.0");
        assert_eq!(value["info"]["title"], "Jackal");
        assert_eq!(value["info"]["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(
            value["components"]["securitySchemes"]["basicAuth"]["scheme"],
            "basic"
        );
        let links = &value["paths"]["/data-source/{data_source}/permission/person/{person}"]
            ["post"]["responses"]["200"]["links"];
        assert_eq!(
            links["deletePairPermissions"],
            serde_json::json!({"operationId": "deletePairPermissions", "parameters": {
                "data_source": "$response.body#/dataSourceId",
                "person": "$response.body#/personId",
            }})
        );
        assert_eq!(
            links["getPermission"]["parameters"]["permission"],
            "$response.body#/id"
        );
    }
}
