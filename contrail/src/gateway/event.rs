//! The REST API proxy event API Gateway sends the query function, built from an HTTP request.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use contrail_query::route::Route;
use contrail_shared::uri;
use http::{HeaderMap, Method};
use serde_json::{Map, Value, json};

/// The API id and stage of the local API, as they appear in ARNs and request contexts.
pub const API_ID: &str = "contrail";
pub const STAGE: &str = "local";
pub const ACCOUNT_ID: &str = "000000000000";
pub const REGION: &str = "us-east-1";

/// The resources of the API, from the query function's own route table: a path to its resource
/// template and decoded path parameters. Anything else is the catch-all proxy resource, as a
/// `/{proxy+}` route would see it.
pub fn resource_for(path: &str) -> (String, BTreeMap<String, String>) {
    let (resource, parameter) = match Route::parse(path) {
        Some(route) => (route.template(), route.path_parameter()),
        None => ("/{proxy+}", Some(("proxy", path.strip_prefix('/').unwrap_or(path)))),
    };
    let parameters = parameter.map(|(name, value)| (name.to_owned(), uri::decode(value))).into_iter().collect();
    (resource.to_owned(), parameters)
}

/// The method ARN the authorizer is asked about.
pub fn method_arn(method: &Method, path: &str) -> String {
    format!("arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{API_ID}/{STAGE}/{method}{path}")
}

/// Everything about the request that goes into the event.
pub struct Incoming<'a> {
    pub method: &'a Method,
    /// The path as requested, still percent-encoded.
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    pub source_ip: String,
    pub request_id: &'a str,
    pub received: DateTime<Utc>,
    /// `requestContext.authorizer`: principal and context from the authorizer; empty for routes
    /// without one.
    pub authorizer: Map<String, Value>,
}

/// Builds the event JSON, field for field as API Gateway's REST proxy integration does.
pub fn proxy_event(req: &Incoming<'_>) -> Value {
    let (resource, path_parameters) = resource_for(req.path);
    let mut headers = Map::new();
    let mut multi_headers: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (name, value) in req.headers {
        let Ok(text) = value.to_str() else { continue };
        headers.insert(name.as_str().to_owned(), Value::String(text.to_owned()));
        multi_headers.entry(name.as_str().to_owned()).or_default().push(Value::String(text.to_owned()));
    }
    let host = req.headers.get(http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost").to_owned();
    for (name, value) in [("x-forwarded-for", req.source_ip.clone()), ("x-forwarded-proto", "http".to_owned())] {
        headers.entry(name).or_insert_with(|| Value::String(value.clone()));
        multi_headers.entry(name.to_owned()).or_insert_with(|| vec![Value::String(value)]);
    }
    let mut query: Map<String, Value> = Map::new();
    let mut multi_query: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (k, v) in parse_query(req.query.unwrap_or_default()) {
        query.insert(k.clone(), Value::String(v.clone()));
        multi_query.entry(k).or_default().push(Value::String(v));
    }
    let nullable_map = |m: Map<String, Value>| if m.is_empty() { Value::Null } else { Value::Object(m) };
    let (body, base64) = match (req.body.is_empty(), std::str::from_utf8(req.body)) {
        (true, _) => (Value::Null, false),
        (false, Ok(text)) => (Value::String(text.to_owned()), false),
        (false, Err(_)) => (Value::String(contrail_shared::codec::encode_base64(req.body)), true),
    };
    let user_agent = req.headers.get(http::header::USER_AGENT).and_then(|h| h.to_str().ok());
    let mut authorizer = req.authorizer.clone();
    if !authorizer.is_empty() {
        authorizer.insert("integrationLatency".into(), json!(0));
    }
    json!({
        "resource": resource,
        "path": req.path,
        "httpMethod": req.method.as_str(),
        "headers": nullable_map(headers),
        "multiValueHeaders": if multi_headers.is_empty() { Value::Null } else { json!(multi_headers) },
        "queryStringParameters": nullable_map(query),
        "multiValueQueryStringParameters": if multi_query.is_empty() { Value::Null } else { json!(multi_query) },
        "pathParameters": if path_parameters.is_empty() { Value::Null } else { json!(path_parameters) },
        "stageVariables": null,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "resourceId": "local",
            "stage": STAGE,
            "requestId": req.request_id,
            "extendedRequestId": req.request_id,
            "requestTime": req.received.format("%d/%b/%Y:%H:%M:%S +0000").to_string(),
            "requestTimeEpoch": req.received.timestamp_millis(),
            "path": format!("/{STAGE}{}", req.path),
            "resourcePath": resource,
            "httpMethod": req.method.as_str(),
            "protocol": "HTTP/1.1",
            "domainName": host,
            "identity": {
                "sourceIp": req.source_ip,
                "userAgent": user_agent,
                "accountId": null, "apiKey": null, "caller": null, "user": null, "userArn": null,
                "cognitoIdentityId": null, "cognitoIdentityPoolId": null,
                "cognitoAuthenticationType": null, "cognitoAuthenticationProvider": null,
            },
            "authorizer": if authorizer.is_empty() { Value::Null } else { Value::Object(authorizer) },
        },
        "body": body,
        "isBase64Encoded": base64,
    })
}

/// `a=1&b=x%20y&a=2` into decoded pairs, in order; API Gateway decodes `%XX` and `+`.
pub fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (uri::decode(&k.replace('+', " ")), uri::decode(&v.replace('+', " ")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incoming<'a>(method: &'a Method, path: &'a str, query: Option<&'a str>, headers: &'a HeaderMap) -> Incoming<'a> {
        Incoming {
            method,
            path,
            query,
            headers,
            body: b"",
            source_ip: "127.0.0.1".into(),
            request_id: "req-1",
            received: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            authorizer: json!({"principalId": "alice", "scopes": "flights:read"}).as_object().unwrap().clone(),
        }
    }

    #[test]
    fn routes_map_to_their_resources_with_decoded_parameters() {
        assert_eq!(resource_for("/flights/UA1%2D2").0, "/flights/{flight_id}");
        assert_eq!(resource_for("/flights/UA1%2D2").1["flight_id"], "UA1-2");
        assert_eq!(resource_for("/airports/EWR/arrivals").1["code"], "EWR");
        assert_eq!(resource_for("/nope/x").0, "/{proxy+}");
        assert_eq!(resource_for("/positions"), ("/positions".to_owned(), BTreeMap::new()));
    }

    #[test]
    fn the_event_converts_to_the_request_the_query_function_reads() {
        use lambda_http::RequestExt as _;
        let mut headers = HeaderMap::new();
        headers.insert("host", "127.0.0.1:3000".parse().unwrap());
        headers.append("accept", "a".parse().unwrap());
        headers.append("accept", "b".parse().unwrap());
        let method = Method::GET;
        let inc = incoming(&method, "/flights", Some("carrier=UA&status=landed%2Carrived&status=x"), &headers);
        let event = proxy_event(&inc);
        assert_eq!(event["requestContext"]["authorizer"]["principalId"], "alice");
        assert_eq!(event["multiValueHeaders"]["accept"], json!(["a", "b"]));
        let req = lambda_http::request::from_str(&event.to_string()).unwrap();
        assert_eq!(req.raw_http_path(), "/flights");
        let q = req.query_string_parameters();
        assert_eq!(q.first("carrier"), Some("UA"));
        assert_eq!(q.all("status").unwrap(), vec!["landed,arrived", "x"]);
        let Some(lambda_http::request::RequestContext::ApiGatewayV1(ctx)) = req.request_context_ref() else {
            panic!("not a REST event")
        };
        assert_eq!(ctx.stage.as_deref(), Some(STAGE));
        assert_eq!(ctx.authorizer.fields["scopes"], "flights:read");
    }

    #[test]
    fn query_strings_decode_like_api_gateway() {
        assert_eq!(
            parse_query("a=1&b=x%20y+z&c&=v&d=%zz"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y z".into()),
                ("c".into(), "".into()),
                ("".into(), "v".into()),
                ("d".into(), "%zz".into())
            ]
        );
    }
}
