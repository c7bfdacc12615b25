//! `template.yaml` checked against the workspace, so the stack and the code cannot drift apart: each
//! function is built from a binary that exists, its environment sets exactly the variables its code
//! reads, the database functions get the network, the IAM grant and the CA bundle they need, only the
//! code that sends dead letters may send to the queue, and the dashboard plots metrics the code emits.
//!
//! The environment a function reads is data: each function crate's `environment()`, the union of the
//! `VARIABLES` lists of the readers it uses. The template is held to that list, and each list is held
//! to what its readers ask for, recorded by `Env::recording` while they read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use contrail_shared::auth::AuthConfig;
use contrail_shared::config::{DbConfig, Env};
use contrail_shared::secrets::SecretVar;
use contrail_shared::telemetry::{LogSettings, MetricSet};
use serde_norway::Value;

/// Set by Lambda itself (reserved) or by the template's `LoggingConfig`; a function cannot set them.
const SET_BY_LAMBDA: &[&str] = &[
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_LAMBDA_LOG_FORMAT",
    "AWS_LAMBDA_LOG_LEVEL",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
];

/// Local alternatives the deployed stack replaces: `DATABASE_URL` by the `DB_*` IAM settings, `RUST_LOG`
/// by the `LoggingConfig` level (`AWS_LAMBDA_LOG_LEVEL`), each secret's value by its `_ARN` (read from
/// Secrets Manager); `DB_ALLOW_INSECURE_TLS` is an escape hatch for test setups that the stack never sets
/// (it always connects with `verify-full`).
const LOCAL_ONLY: &[&str] = &["DATABASE_URL", "RUST_LOG", "DB_ALLOW_INSECURE_TLS", "JWT_HS256_SECRET", "CURSOR_SECRET"];

#[test]
fn every_function_is_built_from_a_workspace_binary_with_cargo_lambda() {
    let template = Template::load();
    let workspace = Workspace::load();
    assert_eq!(template.functions.len(), 4, "ingest, query, authorizer, redrive: {:?}", template.function_ids());
    for function in &template.functions {
        let id = &function.logical_id;
        assert_eq!(str_at(&function.resource, &["Metadata", "BuildMethod"]), Some("rust-cargolambda"), "{id}");
        assert_eq!(template.function_property(function, "Handler").and_then(Value::as_str), Some("bootstrap"), "{id}");
        assert_eq!(
            template.function_property(function, "Runtime").and_then(Value::as_str),
            Some("provided.al2023"),
            "{id}"
        );
        let krate = workspace
            .crate_with_binary(&function.binary)
            .unwrap_or_else(|| panic!("{id} builds binary {:?}, which no workspace crate declares", function.binary));
        // SAM runs cargo-lambda in CodeUri: in the crate's own directory cargo resolves the features of that crate
        // alone; at the workspace root it would unify them with every member's (SQLite from the local stack).
        assert_eq!(
            template.function_property(function, "CodeUri").and_then(Value::as_str),
            Some(krate.member.as_str()),
            "{id}: CodeUri must be the directory of the crate that declares {:?}",
            function.binary
        );
        let main = &krate.binaries[&function.binary];
        let text = std::fs::read_to_string(main).unwrap_or_else(|e| panic!("{}: {e}", main.display()));
        assert!(text.contains("fn main"), "{id}: {} has no main", main.display());
    }
}

/// The secrets a function may read by ARN, from the function crate itself.
fn secrets_of(binary: &str) -> &'static [SecretVar] {
    match binary {
        "query" => contrail_query::SECRETS,
        "authorizer" => contrail_authorizer::SECRETS,
        _ => &[],
    }
}

/// The variables a function's code reads, from the function crate itself.
fn environment_of(binary: &str) -> Vec<&'static str> {
    match binary {
        "ingest" => contrail_ingest::environment(),
        "query" => contrail_query::environment(),
        "authorizer" => contrail_authorizer::environment(),
        "redrive" => contrail_redrive::environment(),
        other => panic!("no function crate builds {other}"),
    }
}

#[test]
fn every_function_sets_exactly_the_environment_its_code_reads() {
    let template = Template::load();
    let mut problems = Vec::new();
    for function in &template.functions {
        let reads = environment_of(&function.binary);
        let wanted: BTreeSet<&str> =
            reads.iter().copied().filter(|v| !SET_BY_LAMBDA.contains(v) && !LOCAL_ONLY.contains(v)).collect();
        let set = template.environment_of(function);
        let set: BTreeSet<&str> = set.iter().map(String::as_str).collect();
        for missing in wanted.difference(&set) {
            problems.push(format!("{}: the code reads {missing}, the template does not set it", function.logical_id));
        }
        for unread in set.difference(&wanted) {
            problems.push(format!("{}: the template sets {unread}, the code never reads it", function.logical_id));
        }
        for reserved in set.iter().filter(|v| SET_BY_LAMBDA.contains(v) || LOCAL_ONLY.contains(v)) {
            problems.push(format!("{}: {reserved} must not be set by the template", function.logical_id));
        }
        if reads.iter().any(|v| *v == "AWS_LAMBDA_LOG_LEVEL" || *v == "AWS_LAMBDA_LOG_FORMAT") {
            let logging = template.logging_config_of(function);
            if logging.get("LogFormat").map(String::as_str) != Some("JSON") {
                problems.push(format!("{}: LoggingConfig.LogFormat must be JSON", function.logical_id));
            }
            if !logging.contains_key("ApplicationLogLevel") {
                problems.push(format!("{}: LoggingConfig.ApplicationLogLevel is not set", function.logical_id));
            }
        }
    }
    assert!(problems.is_empty(), "template.yaml and the code disagree:\n  {}", problems.join("\n  "));
}

/// Takes every branch of the readers: IAM auth (host, user, TLS), a queue, Lambda's own variables,
/// and the fallbacks read only when the first choice is unset (an empty override counts as unset).
fn every_branch() -> Env {
    [
        ("DB_IAM_AUTH", "true"),
        ("DB_HOST", "db.example"),
        ("DB_NAME", "contrail"),
        ("DB_USER", "contrail"),
        ("DB_SSL_MODE", "verify-full"),
        ("AWS_REGION", ""),
        ("RUST_LOG", ""),
        ("DLQ_URL", "https://sqs.eu-west-1.amazonaws.com/123456789012/dlq"),
        ("FAILURE_BUCKET", "failures"),
        ("AWS_LAMBDA_FUNCTION_NAME", "contrail"),
        ("CURSOR_SECRET", "a-cursor-secret-of-at-least-32-bytes"),
        ("JWT_ISSUER", "https://issuer.example/"),
        ("JWT_AUDIENCE", "contrail-api"),
        ("JWT_HS256_SECRET", "an-hs256-secret-of-at-least-32-bytes"),
    ]
    .into_iter()
    .fold(Env::process(), |env, (name, value)| env.with_override(name, value))
    .recording()
}

#[test]
fn each_function_lists_exactly_the_variables_its_readers_ask_for() {
    type Readers = fn(&Env);
    let functions: [(&str, Readers); 4] = [
        ("ingest", |env| {
            DbConfig::from_vars(env).expect("db");
            contrail_ingest::Config::from_vars(env).expect("ingest");
        }),
        ("query", |env| {
            DbConfig::from_vars(env).expect("db");
            contrail_query::Config::from_vars(env).expect("query");
            SecretVar::CURSOR_SECRET.arn(env).expect("cursor secret");
        }),
        ("authorizer", |env| {
            AuthConfig::from_vars(env).expect("auth");
            SecretVar::JWT_HS256_SECRET.arn(env).expect("hs256 secret");
        }),
        ("redrive", |env| {
            DbConfig::from_vars(env).expect("db");
            contrail_redrive::Config::from_vars(env).expect("redrive");
        }),
    ];
    for (binary, read) in functions {
        let env = every_branch();
        LogSettings::from_vars(&env);
        read(&env);
        let listed: BTreeSet<String> = environment_of(binary).into_iter().map(str::to_owned).collect();
        assert_eq!(env.reads(), listed, "{binary}: what its readers ask for, against its environment()");
    }
}

#[test]
fn functions_that_use_the_database_reach_it_with_iam_tls_and_the_rds_ca_layer() {
    let template = Template::load();
    for function in &template.functions {
        let id = &function.logical_id;
        let env = template.environment_values_of(function);
        if !env.contains_key("DB_HOST") {
            assert!(
                !template.role_actions(function).contains("rds-db:connect"),
                "{id} has no database but may connect"
            );
            continue;
        }
        assert_eq!(env.get("DB_IAM_AUTH").map(String::as_str), Some("true"), "{id}");
        assert_eq!(env.get("DB_SSL_MODE").map(String::as_str), Some("verify-full"), "{id}");
        assert!(template.function_property(function, "VpcConfig").is_some(), "{id} needs VpcConfig to reach RDS");

        let grants = template.statements_allowing(function, "rds-db:connect");
        assert_eq!(grants.len(), 1, "{id}: one rds-db:connect grant");
        let grant = grants[0].get("Resource").expect("Resource");
        let resource = serde_json::to_string(&to_json(grant)).expect("json");
        // The grant names the user the function logs in as (its DB_USER), not another one, on a resource id
        // parameter: DbResourceId, or a `!Sub` variable that is one of the resource id parameters.
        let user = template.environment_ref_of(function, "DB_USER").unwrap_or_else(|| panic!("{id}: DB_USER is a Ref"));
        let resource_ids = sub_variable_refs(grant, "ReadResourceId");
        let named = if resource_ids.is_empty() {
            resource.contains(&format!(":dbuser:${{DbResourceId}}/${{{user}}}\""))
        } else {
            resource.contains(&format!(":dbuser:${{ReadResourceId}}/${{{user}}}\""))
                && resource_ids.iter().all(|r| ["DbResourceId", "DbReadResourceId"].contains(&r.as_str()))
        };
        assert!(
            named && !resource.contains('*'),
            "{id}: rds-db:connect must name the exact dbuser ARN of DB_USER ({user}), got {resource}"
        );

        let bundle = env.get("DB_CA_BUNDLE").unwrap_or_else(|| panic!("{id} sets no DB_CA_BUNDLE"));
        let in_layer = bundle.strip_prefix("/opt/").unwrap_or_else(|| panic!("{id}: DB_CA_BUNDLE is not in a layer"));
        let layers = template.function_property(function, "Layers").and_then(Value::as_sequence).expect("Layers");
        let built = layers.iter().filter_map(|l| ref_target(l)).any(|layer| template.layer_builds(layer, in_layer));
        assert!(built, "{id}: no layer's Makefile puts {in_layer} into the layer");
    }
}

#[test]
fn the_query_function_connects_as_the_read_only_user_and_the_writers_as_the_owner() {
    let template = Template::load();
    let user_of = |binary: &str| {
        let function = template.functions.iter().find(|f| f.binary == binary).expect("function");
        template.environment_ref_of(function, "DB_USER")
    };
    assert_eq!(user_of("query").as_deref(), Some("DbReadUser"), "the API reads as the read-only user");
    assert_eq!(template.parameter("DbReadUser").and_then(|p| str_at(p, &["Default"])), Some("contrail_reader"));
    for writer in ["ingest", "redrive"] {
        assert_eq!(user_of(writer).as_deref(), Some("DbUser"), "{writer} writes as the schema owner");
    }
}

/// A template parameter and the values Lambda accepts for the setting it feeds.
type Accepts = (&'static str, fn(i64) -> bool);

/// What Lambda accepts for each template parameter that feeds a Lambda setting (the deploy fails on any
/// other value, after the stack has started updating): the parameter must accept exactly these.
const LAMBDA_ACCEPTS: &[Accepts] = &[
    ("IngestMaximumRecordAgeSeconds", |v| v == -1 || (60..=604_800).contains(&v)),
    ("IngestMaximumRetryAttempts", |v| (-1..=10_000).contains(&v)),
    ("IngestBatchSize", |v| (1..=10_000).contains(&v)),
    ("IngestBatchingWindowSeconds", |v| (0..=300).contains(&v)),
    ("IngestMinimumPollers", |v| (1..=200).contains(&v)),
    ("IngestMaximumPollers", |v| (1..=2_000).contains(&v)),
];

#[test]
fn parameters_that_feed_lambda_settings_accept_exactly_what_lambda_accepts() {
    let template = Template::load();
    let mut problems = Vec::new();
    for (name, accepts) in LAMBDA_ACCEPTS {
        let parameter = template.parameter(name).unwrap_or_else(|| panic!("no parameter {name}"));
        let constraint = ParameterConstraint::of(parameter);
        let wrong: Vec<i64> =
            (-10..=700_000).filter(|v| constraint.accepts(&v.to_string()) != accepts(*v)).take(5).collect();
        if !wrong.is_empty() {
            problems.push(format!("{name}: the template and Lambda disagree on {wrong:?}"));
        }
        let default = str_at(parameter, &["Default"])
            .map(str::to_owned)
            .or_else(|| parameter.get("Default").and_then(Value::as_i64).map(|d| d.to_string()));
        match default.as_deref().map(str::parse::<i64>) {
            Some(Ok(d)) if accepts(d) && constraint.accepts(&d.to_string()) => {}
            other => problems.push(format!("{name}: default {other:?} is not a value Lambda accepts")),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_api_functions_reserve_concurrency_only_when_asked_so_any_account_can_deploy_the_defaults() {
    let template = Template::load();
    for (id, parameter) in
        [("QueryFunction", "QueryReservedConcurrency"), ("AuthorizerFunction", "AuthorizerReservedConcurrency")]
    {
        let function = template.functions.iter().find(|f| f.logical_id == id).expect("function");
        let reserved = template
            .function_property(function, "ReservedConcurrentExecutions")
            .unwrap_or_else(|| panic!("{id} has no ReservedConcurrentExecutions"));
        let Value::Tagged(tagged) = reserved else { panic!("{id}: ReservedConcurrentExecutions is an !If") };
        assert_eq!(tagged.tag, "If", "{id}");
        let branches = tagged.value.as_sequence().expect("!If [condition, then, else]");
        let condition = branches[0].as_str().expect("condition name");
        assert_eq!(ref_target(&branches[1]), Some(parameter), "{id}: reserves the parameter's value");
        assert_eq!(ref_target(&branches[2]), Some("AWS::NoValue"), "{id}: otherwise reserves nothing");

        let p = template.parameter(parameter).unwrap_or_else(|| panic!("no parameter {parameter}"));
        let default = p.get("Default").and_then(Value::as_i64).map(|d| d.to_string()).expect("a numeric default");
        let constraint = ParameterConstraint::of(p);
        assert!(constraint.accepts(&default) && !constraint.accepts("-1"), "{parameter}");
        let with = |value: &str| template.condition(condition, &BTreeMap::from([(parameter, value)]));
        // A reservation of 0 would stop the function; the default must mean "no reservation" instead.
        assert!(!with(&default), "{id}: the default {default} must leave the function unreserved");
        assert!(!with("0"), "{id}: 0 must mean unreserved, never a reservation of 0");
        assert!(with("20"), "{id}: 20 must reserve 20");
    }
}

#[test]
fn alarms_watch_the_failure_bucket_and_the_age_of_the_oldest_dead_letter() {
    let template = Template::load();
    let alarms = template.resources_of_type("AWS::CloudWatch::Alarm");
    for (id, alarm) in &alarms {
        let actions = alarm.get("Properties").and_then(|p| p.get("AlarmActions")).and_then(Value::as_sequence);
        assert!(actions.is_some_and(|a| !a.is_empty()), "{id} alarms nobody");
    }
    let watching = |metric: &str| {
        alarms
            .iter()
            .filter(|(_, a)| str_at(a, &["Properties", "MetricName"]) == Some(metric))
            .map(|(_, a)| a.get("Properties").expect("Properties"))
            .collect::<Vec<_>>()
    };

    let age = watching("ApproximateAgeOfOldestMessage");
    assert_eq!(age.len(), 1, "one alarm on the DLQ's oldest message");
    let dimension = &age[0].get("Dimensions").and_then(Value::as_sequence).expect("Dimensions")[0];
    assert_eq!(dimension.get("Value").and_then(getatt_target).as_deref(), Some("DeadLetterQueue"));
    let threshold = age[0].get("Threshold").and_then(ref_target).expect("the threshold is a parameter");
    assert!(template.parameter(threshold).is_some(), "{threshold}");

    // The event source mapping's failure records: PUTs counted by a request-metrics filter of the bucket
    // its OnFailure destination names, on the prefix it writes under and not on the redrive function's.
    let ingest = template.functions.iter().find(|f| f.binary == "ingest").expect("ingest");
    let mappings = template.mappings_of(ingest);
    assert_eq!(mappings.len(), 2, "one mapping for MSK, one for a self-managed Kafka");
    let destinations: BTreeSet<String> = mappings
        .iter()
        .map(|(id, m)| {
            m.get("Properties")
                .and_then(|p| p.get("DestinationConfig"))
                .and_then(|d| d.get("OnFailure"))
                .and_then(|o| o.get("Destination"))
                .and_then(getatt_target)
                .unwrap_or_else(|| panic!("{id}: the on-failure destination is a bucket of the stack"))
        })
        .collect();
    assert_eq!(destinations.len(), 1, "both mappings write failure records to one bucket: {destinations:?}");
    let destination = destinations.into_iter().next().expect("a destination");
    let puts = watching("PutRequests");
    assert_eq!(puts.len(), 1, "one alarm on failure records");
    let dimensions = puts[0].get("Dimensions").and_then(Value::as_sequence).expect("Dimensions");
    let dimension =
        |name: &str| dimensions.iter().find(|d| str_at(d, &["Name"]) == Some(name)).and_then(|d| d.get("Value"));
    assert_eq!(dimension("BucketName").and_then(ref_target), Some(destination.as_str()));
    let filter_id = dimension("FilterId").and_then(Value::as_str).expect("a FilterId");
    let bucket = template.resource(&destination).expect("the bucket");
    let filters = bucket.get("Properties").and_then(|p| p.get("MetricsConfigurations")).and_then(Value::as_sequence);
    let filter = filters.into_iter().flatten().find(|f| str_at(f, &["Id"]) == Some(filter_id)).expect("the filter");
    assert_eq!(str_at(filter, &["Prefix"]), Some("aws/lambda/"), "where Lambda writes failure records");
    assert_eq!(str_at(puts[0], &["Namespace"]), Some("AWS/S3"));
    assert_eq!(puts[0].get("Threshold").and_then(Value::as_i64), Some(0), "one failure record is one too many");
}

#[test]
fn only_functions_that_read_the_dead_letter_queue_setting_may_send_to_the_queue() {
    let template = Template::load();
    for function in &template.functions {
        // `DLQ_URL` is read by the functions that send dead letters there (ingest sinks poison records,
        // redrive sends back what still fails), and by no other.
        let sends = environment_of(&function.binary).contains(&"DLQ_URL");
        let grants = template.statements_allowing(function, "sqs:SendMessage");
        if sends {
            assert_eq!(grants.len(), 1, "{} sends dead letters: it needs sqs:SendMessage", function.logical_id);
            assert_eq!(
                grants[0].get("Resource").and_then(getatt_target),
                Some("DeadLetterQueue".to_owned()),
                "{}: SendMessage on the DLQ only",
                function.logical_id
            );
        } else {
            assert!(grants.is_empty(), "{} never sends dead letters, yet may send to SQS", function.logical_id);
        }
    }
}

/// What each function crate says it emits.
const METRIC_SETS: [MetricSet; 3] = [contrail_ingest::METRICS, contrail_query::METRICS, contrail_redrive::METRICS];

/// A secret reaches a function as the ARN of a Secrets Manager secret of the stack, never as its value,
/// and the function may read exactly the secrets its variables name: `secretsmanager:GetSecretValue` on
/// each of them and on nothing else.
#[test]
fn secrets_reach_functions_as_arns_with_a_grant_on_exactly_those_secrets() {
    let template = Template::load();
    let mut problems = Vec::new();
    for function in &template.functions {
        let id = &function.logical_id;
        let vars =
            function.resource.get("Properties").and_then(|p| p.get("Environment")).and_then(|e| e.get("Variables"));
        let mut named = BTreeSet::new();
        for secret in secrets_of(&function.binary) {
            let Some(value) = vars.and_then(|v| v.get(secret.arn_var)) else {
                problems.push(format!("{id}: {} is not set", secret.arn_var));
                continue;
            };
            for target in branches(value) {
                match ref_target(target) {
                    Some(r)
                        if template.resource(r).and_then(|res| str_at(res, &["Type"]))
                            == Some("AWS::SecretsManager::Secret") =>
                    {
                        named.insert(r.to_owned());
                    }
                    _ => problems
                        .push(format!("{id}: {} is not a !Ref to a secret of the stack: {target:?}", secret.arn_var)),
                }
            }
        }
        let mut granted = BTreeSet::new();
        for statement in template.statements_allowing(function, "secretsmanager:GetSecretValue") {
            match statement.get("Resource").and_then(ref_target) {
                Some(r) => granted.insert(r.to_owned()),
                None => {
                    problems.push(format!("{id}: a GetSecretValue grant not on one !Ref secret: {statement:?}"));
                    continue;
                }
            };
        }
        // The event source mapping reads its Kafka credentials with the function's role.
        let kafka: BTreeSet<String> = template
            .mappings_of(function)
            .iter()
            .flat_map(|(_, m)| values_of_key(m, "URI"))
            .filter_map(|uri| branches(uri).into_iter().find_map(ref_target).map(str::to_owned))
            .filter(|r| template.parameter(r).is_some())
            .collect();
        let granted: BTreeSet<String> = granted.difference(&kafka).cloned().collect();
        if named != granted {
            problems.push(format!("{id}: its variables name the secrets {named:?}, its role may read {granted:?}"));
        }
        let others = template
            .role_actions(function)
            .into_iter()
            .filter(|a| a.starts_with("secretsmanager:") && a != "secretsmanager:GetSecretValue");
        problems.extend(others.map(|a| format!("{id}: {a} is more than reading a secret")));
    }
    assert!(problems.is_empty(), "secrets in template.yaml:\n  {}", problems.join("\n  "));
}

/// Template parameters, by name.
type Parameters = &'static [(&'static str, &'static str)];

/// One way a team's Kafka may authenticate, as the template's parameters say it, and what the template must
/// make of it: the mapping that exists, its access configurations and the Kafka grants of the role.
struct KafkaCase {
    name: &'static str,
    parameters: Parameters,
    mapping: &'static str,
    access: &'static [(&'static str, &'static str)],
    grants: &'static [&'static str],
}

const MSK: &str = "arn:aws:kafka:eu-west-1:123456789012:cluster/flights/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0-3";
const CREDENTIALS: &str = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:AmazonMSK_contrail-AbCdEf";
const ROOT_CA: &str = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:kafka-root-ca-AbCdEf";
const SECRET_KEY: &str = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

const KAFKA_CASES: &[KafkaCase] = &[
    KafkaCase {
        name: "MSK with IAM (the default)",
        parameters: &[("MskClusterArn", MSK)],
        mapping: "IngestFromMsk",
        access: &[],
        grants: &["MskClusterConnect", "MskReadTheTopic", "MskUseTheConsumerGroup"],
    },
    KafkaCase {
        name: "MSK with SASL/SCRAM",
        parameters: &[
            ("MskClusterArn", MSK),
            ("KafkaAuthentication", "SASL_SCRAM_512"),
            ("KafkaSecretArn", CREDENTIALS),
            ("KafkaSecretKmsKeyArn", SECRET_KEY),
        ],
        mapping: "IngestFromMsk",
        access: &[("SASL_SCRAM_512_AUTH", CREDENTIALS)],
        grants: &["ReadTheKafkaCredentials", "DecryptTheKafkaSecrets"],
    },
    KafkaCase {
        name: "MSK with mutual TLS",
        parameters: &[
            ("MskClusterArn", MSK),
            ("KafkaAuthentication", "CLIENT_CERTIFICATE_TLS"),
            ("KafkaSecretArn", CREDENTIALS),
        ],
        mapping: "IngestFromMsk",
        access: &[("CLIENT_CERTIFICATE_TLS_AUTH", CREDENTIALS)],
        grants: &["ReadTheKafkaCredentials"],
    },
    KafkaCase {
        name: "MSK without authentication",
        parameters: &[("MskClusterArn", MSK), ("KafkaAuthentication", "NONE")],
        mapping: "IngestFromMsk",
        access: &[],
        grants: &[],
    },
    KafkaCase {
        name: "Confluent Cloud: SASL/PLAIN over the internet",
        parameters: &[
            ("KafkaBootstrapServers", "pkc-a1b2c.eu-west-1.aws.confluent.cloud:9092"),
            ("KafkaAuthentication", "SASL_PLAIN"),
            ("KafkaSecretArn", CREDENTIALS),
        ],
        mapping: "IngestFromSelfManagedKafka",
        access: &[("BASIC_AUTH", CREDENTIALS)],
        grants: &["ReadTheKafkaCredentials"],
    },
    KafkaCase {
        name: "Kafka on EC2: SCRAM-SHA-256, a private CA, three subnets",
        parameters: &[
            ("KafkaBootstrapServers", "b-1.kafka.internal:9096,b-2.kafka.internal:9096"),
            ("KafkaAuthentication", "SASL_SCRAM_256"),
            ("KafkaSecretArn", CREDENTIALS),
            ("KafkaRootCaSecretArn", ROOT_CA),
            ("KafkaSecretKmsKeyArn", SECRET_KEY),
            ("KafkaSubnetIds", "subnet-a,subnet-b,subnet-c"),
            ("KafkaSecurityGroupId", "sg-0123abcd"),
        ],
        mapping: "IngestFromSelfManagedKafka",
        access: &[
            ("SASL_SCRAM_256_AUTH", CREDENTIALS),
            ("SERVER_ROOT_CA_CERTIFICATE", ROOT_CA),
            ("VPC_SECURITY_GROUP", "security_group:sg-0123abcd"),
            ("VPC_SUBNET", "subnet:subnet-a"),
            ("VPC_SUBNET", "subnet:subnet-b"),
            ("VPC_SUBNET", "subnet:subnet-c"),
        ],
        grants: &["ReadTheKafkaCredentials", "ReadTheKafkaRootCa", "DecryptTheKafkaSecrets", "ReachTheBrokersInTheVpc"],
    },
    KafkaCase {
        name: "Redpanda: mutual TLS, two subnets",
        parameters: &[
            ("KafkaBootstrapServers", "redpanda-0.internal:9093"),
            ("KafkaAuthentication", "CLIENT_CERTIFICATE_TLS"),
            ("KafkaSecretArn", CREDENTIALS),
            ("KafkaSubnetIds", "subnet-a,subnet-b"),
            ("KafkaSecurityGroupId", "sg-0123abcd"),
        ],
        mapping: "IngestFromSelfManagedKafka",
        access: &[
            ("CLIENT_CERTIFICATE_TLS_AUTH", CREDENTIALS),
            ("VPC_SECURITY_GROUP", "security_group:sg-0123abcd"),
            ("VPC_SUBNET", "subnet:subnet-a"),
            ("VPC_SUBNET", "subnet:subnet-b"),
        ],
        grants: &["ReadTheKafkaCredentials", "ReachTheBrokersInTheVpc"],
    },
    KafkaCase {
        name: "Self-managed, unauthenticated inside the VPC, one subnet",
        parameters: &[
            ("KafkaBootstrapServers", "kafka.internal:9092"),
            ("KafkaAuthentication", "NONE"),
            ("KafkaSubnetIds", "subnet-a"),
            ("KafkaSecurityGroupId", "sg-0123abcd"),
        ],
        mapping: "IngestFromSelfManagedKafka",
        access: &[("VPC_SECURITY_GROUP", "security_group:sg-0123abcd"), ("VPC_SUBNET", "subnet:subnet-a")],
        grants: &["ReachTheBrokersInTheVpc"],
    },
];

/// The grants of the ingest role that only some Kafka settings need.
const KAFKA_GRANTS: &[&str] = &[
    "MskClusterConnect",
    "MskReadTheTopic",
    "MskUseTheConsumerGroup",
    "ReadTheKafkaCredentials",
    "ReadTheKafkaRootCa",
    "DecryptTheKafkaSecrets",
    "ReachTheBrokersInTheVpc",
];

#[test]
fn each_way_kafka_authenticates_makes_one_mapping_with_exactly_its_access_and_grants() {
    let template = Template::load();
    let ingest = template.functions.iter().find(|f| f.binary == "ingest").expect("ingest");
    let mappings = template.mappings_of(ingest);
    let policies = ingest.resource.get("Properties").and_then(|p| p.get("Policies")).expect("Policies");
    for case in KAFKA_CASES {
        let name = case.name;
        let parameters: BTreeMap<&str, &str> = case.parameters.iter().copied().collect();
        assert_eq!(template.broken_rules(&parameters), Vec::<String>::new(), "{name}: the rules refuse it");

        let existing: Vec<&str> = mappings
            .iter()
            .filter(|(_, m)| template.condition(str_at(m, &["Condition"]).expect("a conditional mapping"), &parameters))
            .map(|(id, _)| id.as_str())
            .collect();
        assert_eq!(existing, [case.mapping], "{name}: the mappings that exist");
        let (_, mapping) = mappings.iter().find(|(id, _)| id == case.mapping).expect("the mapping");
        let properties =
            template.resolve(mapping.get("Properties").expect("Properties"), &parameters).expect("properties");
        let access: Vec<(String, String)> = properties
            .get("SourceAccessConfigurations")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .map(|c| (str_at(c, &["Type"]).expect("Type").to_owned(), str_at(c, &["URI"]).expect("URI").to_owned()))
            .collect();
        let wanted: Vec<(String, String)> =
            case.access.iter().map(|(t, u)| ((*t).to_owned(), (*u).to_owned())).collect();
        assert_eq!(access, wanted, "{name}: SourceAccessConfigurations");
        if case.mapping == "IngestFromSelfManagedKafka" {
            let servers = properties
                .get("SelfManagedEventSource")
                .and_then(|s| s.get("Endpoints"))
                .and_then(|e| e.get("KafkaBootstrapServers"));
            let servers: Vec<&str> =
                servers.and_then(Value::as_sequence).expect("servers").iter().filter_map(Value::as_str).collect();
            assert_eq!(servers.join(","), parameters["KafkaBootstrapServers"], "{name}: the brokers");
        }

        let resolved = template.resolve(policies, &parameters).expect("policies");
        let statements: Vec<&Value> = resolved
            .as_sequence()
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("Statement").and_then(Value::as_sequence))
            .flatten()
            .collect();
        let sids: BTreeSet<&str> =
            statements.iter().filter_map(|s| str_at(s, &["Sid"])).filter(|s| KAFKA_GRANTS.contains(s)).collect();
        let wanted: BTreeSet<&str> = case.grants.iter().copied().collect();
        assert_eq!(sids, wanted, "{name}: the Kafka grants of the role");
        for statement in &statements {
            let resource = statement.get("Resource").and_then(Value::as_str).unwrap_or_default();
            match str_at(statement, &["Sid"]) {
                Some("ReadTheKafkaCredentials") => assert_eq!(resource, CREDENTIALS, "{name}"),
                Some("ReadTheKafkaRootCa") => assert_eq!(resource, ROOT_CA, "{name}"),
                Some("DecryptTheKafkaSecrets") => assert_eq!(resource, SECRET_KEY, "{name}"),
                Some("MskClusterConnect") => assert_eq!(resource, MSK, "{name}"),
                _ => {}
            }
        }
        let msk_policy =
            resolved.as_sequence().into_iter().flatten().any(|p| p.as_str() == Some("AWSLambdaMSKExecutionRole"));
        assert_eq!(msk_policy, case.mapping == "IngestFromMsk", "{name}: AWSLambdaMSKExecutionRole");
    }
}

#[test]
fn kafka_settings_that_cannot_work_are_refused_before_anything_is_created() {
    let template = Template::load();
    let refused: &[(&str, Parameters, &str)] = &[
        ("no Kafka at all", &[], "OneKafkaSource"),
        ("both sources", &[("MskClusterArn", MSK), ("KafkaBootstrapServers", "kafka.internal:9092")], "OneKafkaSource"),
        (
            "IAM to a self-managed Kafka",
            &[("KafkaBootstrapServers", "kafka.internal:9092")],
            "SelfManagedKafkaAuthentication",
        ),
        (
            "SASL/PLAIN to MSK",
            &[("MskClusterArn", MSK), ("KafkaAuthentication", "SASL_PLAIN"), ("KafkaSecretArn", CREDENTIALS)],
            "MskAuthentication",
        ),
        (
            "SCRAM without credentials",
            &[("MskClusterArn", MSK), ("KafkaAuthentication", "SASL_SCRAM_512")],
            "KafkaCredentials",
        ),
        ("IAM with credentials", &[("MskClusterArn", MSK), ("KafkaSecretArn", CREDENTIALS)], "NoKafkaCredentials"),
        (
            "a self-managed Kafka open to the internet",
            &[("KafkaBootstrapServers", "kafka.example.com:9092"), ("KafkaAuthentication", "NONE")],
            "SelfManagedKafkaAuthentication",
        ),
        ("a root CA for MSK", &[("MskClusterArn", MSK), ("KafkaRootCaSecretArn", ROOT_CA)], "MskAuthentication"),
        (
            "a security group without subnets",
            &[
                ("KafkaBootstrapServers", "kafka.internal:9092"),
                ("KafkaAuthentication", "NONE"),
                ("KafkaSecurityGroupId", "sg-0123abcd"),
            ],
            "KafkaVpc",
        ),
    ];
    for (name, parameters, rule) in refused {
        let parameters: BTreeMap<&str, &str> = parameters.iter().copied().collect();
        let broken = template.broken_rules(&parameters);
        assert!(broken.iter().any(|b| b == rule), "{name}: rule {rule} must refuse it, broken: {broken:?}");
    }
}

#[test]
fn the_dashboard_plots_only_metrics_the_code_emits() {
    let template = Template::load();
    let plotted = template.dashboard_metrics();
    assert!(plotted.len() >= 10, "the dashboard plots the EMF metrics: {plotted:?}");
    let mut problems = Vec::new();
    for (function, metric) in &plotted {
        match METRIC_SETS.iter().find(|set| set.function == function) {
            None => problems.push(format!("no crate emits metrics with Function={function}")),
            Some(set) if !set.names.contains(&metric.as_str()) => {
                problems.push(format!("{function} never emits {metric}"))
            }
            Some(_) => {}
        }
    }
    assert!(problems.is_empty(), "dashboard widgets without data:\n  {}", problems.join("\n  "));
}

#[test]
fn the_api_routes_are_the_routes_of_the_api_description() {
    let template = Template::load();
    let routes = template.api_routes();
    let openapi = workspace_root().join("api/openapi.yaml");
    let text = std::fs::read_to_string(&openapi).unwrap_or_else(|e| panic!("{}: {e}", openapi.display()));
    let spec: Value = serde_norway::from_str(&text).expect("api/openapi.yaml parses");
    let mut described = BTreeSet::new();
    for (path, item) in spec.get("paths").and_then(Value::as_mapping).expect("paths") {
        let path = path.as_str().expect("path");
        for method in item.as_mapping().expect("path item").keys().filter_map(Value::as_str) {
            if matches!(method, "get" | "put" | "post" | "delete" | "patch" | "head" | "options") {
                described.insert((method.to_ascii_uppercase(), path.to_owned()));
            }
        }
    }
    let routed_paths: BTreeSet<&str> =
        routes.iter().map(|(_, path)| path.as_str()).filter(|path| *path != "/{proxy+}").collect();
    let described_paths: BTreeSet<&str> = described.iter().map(|(_, path)| path.as_str()).collect();
    assert_eq!(routed_paths, described_paths, "template.yaml's Api event paths and api/openapi.yaml's paths");
    for (method, path) in &described {
        let served = routes.iter().any(|(m, p)| p == path && (m == method || m == "ANY"));
        assert!(served, "api/openapi.yaml describes {method} {path}; no Api event of template.yaml serves it");
    }
}

// --- the template -------------------------------------------------------------------------------------

struct Function {
    logical_id: String,
    binary: String,
    resource: Value,
}

struct Template {
    root: Value,
    functions: Vec<Function>,
}

impl Template {
    fn load() -> Self {
        let path = workspace_root().join("template.yaml");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let root: Value = serde_norway::from_str(&text).expect("template.yaml parses, CloudFormation tags included");
        let mut functions = Vec::new();
        for (id, resource) in root.get("Resources").and_then(Value::as_mapping).expect("Resources") {
            if str_at(resource, &["Type"]) != Some("AWS::Serverless::Function") {
                continue;
            }
            let logical_id = id.as_str().expect("logical id").to_owned();
            let binary = str_at(resource, &["Metadata", "BuildProperties", "Binary"])
                .unwrap_or_else(|| panic!("{logical_id}: Metadata.BuildProperties.Binary"))
                .to_owned();
            functions.push(Function { logical_id, binary, resource: resource.clone() });
        }
        Self { root, functions }
    }

    fn parameter(&self, name: &str) -> Option<&Value> {
        self.root.get("Parameters").and_then(|p| p.get(name))
    }

    fn resources_of_type(&self, kind: &str) -> Vec<(String, &Value)> {
        let resources = self.root.get("Resources").and_then(Value::as_mapping).expect("Resources");
        resources
            .iter()
            .filter(|(_, r)| str_at(r, &["Type"]) == Some(kind))
            .map(|(id, r)| (id.as_str().expect("logical id").to_owned(), r))
            .collect()
    }

    /// The parameter an environment variable is `!Ref`fed from.
    fn environment_ref_of(&self, function: &Function, variable: &str) -> Option<String> {
        let vars = function.resource.get("Properties")?.get("Environment")?.get("Variables")?;
        ref_target(vars.get(variable)?).map(str::to_owned)
    }

    /// Evaluates a condition of the template with some parameters set (the others at their defaults).
    fn condition(&self, name: &str, parameters: &BTreeMap<&str, &str>) -> bool {
        let condition = self.root.get("Conditions").and_then(|c| c.get(name)).unwrap_or_else(|| panic!("{name}"));
        self.evaluate(condition, parameters)
    }

    fn evaluate(&self, expression: &Value, parameters: &BTreeMap<&str, &str>) -> bool {
        let Value::Tagged(tagged) = expression else { panic!("a condition function: {expression:?}") };
        let args = tagged.value.as_sequence();
        let arg = |i: usize| &args.expect("arguments")[i];
        match tagged.tag.to_string().trim_start_matches('!') {
            "Not" => !self.evaluate(arg(0), parameters),
            "And" => args.expect("arguments").iter().all(|a| self.evaluate(a, parameters)),
            "Or" => args.expect("arguments").iter().any(|a| self.evaluate(a, parameters)),
            "Equals" => self.scalar(arg(0), parameters) == self.scalar(arg(1), parameters),
            "Condition" => self.condition(tagged.value.as_str().expect("condition name"), parameters),
            // The rule functions.
            "Contains" => self.list(arg(0), parameters).contains(&self.scalar(arg(1), parameters)),
            "EachMemberEquals" => {
                let value = self.scalar(arg(1), parameters);
                self.list(arg(0), parameters).iter().all(|m| *m == value)
            }
            other => panic!("condition function {other} is not evaluated here"),
        }
    }

    /// The event source mappings that invoke the function, by logical id.
    fn mappings_of(&self, function: &Function) -> Vec<(String, &Value)> {
        self.resources_of_type("AWS::Lambda::EventSourceMapping")
            .into_iter()
            .filter(|(_, m)| {
                m.get("Properties").and_then(|p| p.get("FunctionName")).and_then(ref_target)
                    == Some(function.logical_id.as_str())
            })
            .collect()
    }

    /// The rules whose assertions fail with these parameters, by name.
    fn broken_rules(&self, parameters: &BTreeMap<&str, &str>) -> Vec<String> {
        let rules = self.root.get("Rules").and_then(Value::as_mapping).expect("Rules");
        let mut broken = Vec::new();
        for (name, rule) in rules {
            if rule.get("RuleCondition").is_some_and(|c| !self.evaluate(c, parameters)) {
                continue;
            }
            let assertions = rule.get("Assertions").and_then(Value::as_sequence).expect("Assertions");
            if assertions.iter().any(|a| !self.evaluate(a.get("Assert").expect("Assert"), parameters)) {
                broken.push(name.as_str().expect("rule name").to_owned());
            }
        }
        broken
    }

    /// A list: a literal sequence, a `CommaDelimitedList` parameter, or `!Split`.
    fn list(&self, value: &Value, parameters: &BTreeMap<&str, &str>) -> Vec<String> {
        if let Value::Sequence(items) = value {
            return items.iter().map(|i| self.scalar(i, parameters)).collect();
        }
        if let Value::Tagged(tagged) = value
            && tagged.tag == "Split"
        {
            let args = tagged.value.as_sequence().expect("!Split [delimiter, text]");
            let delimiter = self.scalar(&args[0], parameters);
            return self.scalar(&args[1], parameters).split(delimiter.as_str()).map(str::to_owned).collect();
        }
        // A CommaDelimitedList parameter, as CloudFormation splits it.
        self.scalar(value, parameters).split(',').map(str::to_owned).collect()
    }

    /// A property value as CloudFormation resolves it with these parameters: `!If` branches taken, `!Ref`,
    /// `!Sub`, `!Select`, `!Split` and `!Join` evaluated, `AWS::NoValue` dropped (`None`). `!GetAtt` and
    /// references to resources stay as they are.
    fn resolve(&self, value: &Value, parameters: &BTreeMap<&str, &str>) -> Option<Value> {
        match value {
            Value::Tagged(tagged) => match tagged.tag.to_string().trim_start_matches('!') {
                "If" => {
                    let args = tagged.value.as_sequence().expect("!If [condition, then, else]");
                    let taken =
                        if self.condition(args[0].as_str().expect("condition name"), parameters) { 1 } else { 2 };
                    self.resolve(&args[taken], parameters)
                }
                "Ref" => match tagged.value.as_str().expect("!Ref name") {
                    "AWS::NoValue" => None,
                    name if self.parameter(name).is_some() => Some(Value::String(self.scalar(value, parameters))),
                    _ => Some(value.clone()),
                },
                "Sub" => {
                    let (text, variables) = match &tagged.value {
                        Value::String(text) => (text.clone(), None),
                        Value::Sequence(args) => (args[0].as_str().expect("!Sub text").to_owned(), args.get(1)),
                        other => panic!("!Sub {other:?}"),
                    };
                    let mut out = text;
                    if let Some(Value::Mapping(variables)) = variables {
                        for (name, v) in variables {
                            let v = self.resolve(v, parameters).and_then(|v| v.as_str().map(str::to_owned));
                            out =
                                out.replace(&format!("${{{}}}", name.as_str().expect("name")), &v.unwrap_or_default());
                        }
                    }
                    for name in self
                        .root
                        .get("Parameters")
                        .and_then(Value::as_mapping)
                        .into_iter()
                        .flatten()
                        .filter_map(|(k, _)| k.as_str())
                    {
                        let reference = format!("${{{name}}}");
                        let known = parameters.contains_key(name)
                            || self.parameter(name).is_some_and(|p| p.get("Default").is_some());
                        if known && out.contains(&reference) {
                            out = out.replace(&reference, &self.scalar(&ref_to(name), parameters));
                        }
                    }
                    Some(Value::String(out))
                }
                "Split" => Some(Value::Sequence(self.list(value, parameters).into_iter().map(Value::String).collect())),
                "Select" | "Join" => Some(Value::String(self.scalar(value, parameters))),
                _ => Some(value.clone()),
            },
            Value::Sequence(items) => {
                Some(Value::Sequence(items.iter().filter_map(|i| self.resolve(i, parameters)).collect()))
            }
            Value::Mapping(map) => {
                let mut out = serde_norway::Mapping::new();
                for (k, v) in map {
                    if let Some(v) = self.resolve(v, parameters) {
                        out.insert(k.clone(), v);
                    }
                }
                Some(Value::Mapping(out))
            }
            other => Some(other.clone()),
        }
    }

    /// A scalar as CloudFormation compares it (parameter values are strings).
    fn scalar(&self, value: &Value, parameters: &BTreeMap<&str, &str>) -> String {
        if let Some(name) = ref_target(value) {
            if let Some(v) = parameters.get(name) {
                return (*v).to_owned();
            }
            let p = self.parameter(name).unwrap_or_else(|| panic!("no parameter {name}"));
            return self.scalar(p.get("Default").unwrap_or_else(|| panic!("{name} has no default")), parameters);
        }
        if let Value::Tagged(tagged) = value {
            let args = tagged.value.as_sequence();
            match tagged.tag.to_string().trim_start_matches('!') {
                "Select" => {
                    let args = args.expect("!Select [index, list]");
                    let index: usize = self.scalar(&args[0], parameters).parse().expect("an index");
                    let list = self.list(&args[1], parameters);
                    return list
                        .get(index)
                        .cloned()
                        .unwrap_or_else(|| panic!("!Select {index} of {list:?}: out of range"));
                }
                "Join" => {
                    let args = args.expect("!Join [delimiter, list]");
                    let delimiter = self.scalar(&args[0], parameters);
                    return self.list(&args[1], parameters).join(&delimiter);
                }
                _ => {}
            }
        }
        match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => panic!("not a scalar: {other:?}"),
        }
    }

    fn function_ids(&self) -> Vec<&str> {
        self.functions.iter().map(|f| f.logical_id.as_str()).collect()
    }

    fn resource(&self, id: &str) -> Option<&Value> {
        self.root.get("Resources").and_then(|r| r.get(id))
    }

    /// A property of the function, or of `Globals.Function` when the function leaves it out.
    fn function_property<'a>(&'a self, function: &'a Function, name: &str) -> Option<&'a Value> {
        function
            .resource
            .get("Properties")
            .and_then(|p| p.get(name))
            .or_else(|| self.root.get("Globals").and_then(|g| g.get("Function")).and_then(|f| f.get(name)))
    }

    /// Variable names set for the function, `Globals` included (SAM merges the two maps).
    fn environment_of(&self, function: &Function) -> BTreeSet<String> {
        self.environment_values_of(function).into_keys().collect()
    }

    /// Variables with their literal values (`""` where the value is an intrinsic function).
    fn environment_values_of(&self, function: &Function) -> BTreeMap<String, String> {
        let globals = self.root.get("Globals").and_then(|g| g.get("Function"));
        let mut out = BTreeMap::new();
        for source in [globals, Some(&function.resource).and_then(|r| r.get("Properties"))].into_iter().flatten() {
            if let Some(vars) = source.get("Environment").and_then(|e| e.get("Variables")).and_then(Value::as_mapping) {
                for (k, v) in vars {
                    let value = v.as_str().map(str::to_owned).unwrap_or_default();
                    out.insert(k.as_str().expect("variable name").to_owned(), value);
                }
            }
        }
        out
    }

    /// `LoggingConfig` keys with literal values, `Globals` merged under the function's own.
    fn logging_config_of(&self, function: &Function) -> BTreeMap<String, String> {
        let globals = self.root.get("Globals").and_then(|g| g.get("Function"));
        let mut out = BTreeMap::new();
        for source in [globals, function.resource.get("Properties")].into_iter().flatten() {
            if let Some(config) = source.get("LoggingConfig").and_then(Value::as_mapping) {
                for (k, v) in config {
                    out.insert(k.as_str().expect("key").to_owned(), v.as_str().map(str::to_owned).unwrap_or_default());
                }
            }
        }
        out
    }

    /// Inline statements of the function's `Policies`.
    fn statements<'a>(&self, function: &'a Function) -> Vec<&'a Value> {
        let Some(policies) = function.resource.get("Properties").and_then(|p| p.get("Policies")) else {
            return Vec::new();
        };
        policies
            .as_sequence()
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("Statement").and_then(Value::as_sequence))
            .flatten()
            .flat_map(branches)
            .collect()
    }

    fn role_actions(&self, function: &Function) -> BTreeSet<String> {
        self.statements(function).into_iter().flat_map(actions).collect()
    }

    fn statements_allowing<'a>(&self, function: &'a Function, action: &str) -> Vec<&'a Value> {
        self.statements(function)
            .into_iter()
            .filter(|s| str_at(s, &["Effect"]) == Some("Allow") && actions(s).iter().any(|a| a == action))
            .collect()
    }

    /// Whether the layer `id` is built by a Makefile target `build-<id>` that writes `path` into the layer.
    fn layer_builds(&self, id: &str, path: &str) -> bool {
        let Some(layer) = self.resource(id) else { return false };
        if str_at(layer, &["Metadata", "BuildMethod"]) != Some("makefile") {
            return false;
        }
        let Some(dir) = str_at(layer, &["Properties", "ContentUri"]) else { return false };
        let Ok(makefile) = std::fs::read_to_string(workspace_root().join(dir).join("Makefile")) else {
            return false;
        };
        makefile.lines().any(|l| l.starts_with(&format!("build-{id}:")))
            && makefile.contains(&format!("$(ARTIFACTS_DIR)/{path}"))
    }

    /// (method, path) of every `Api` event of every function.
    fn api_routes(&self) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for function in &self.functions {
            let Some(events) =
                function.resource.get("Properties").and_then(|p| p.get("Events")).and_then(Value::as_mapping)
            else {
                continue;
            };
            for event in events.values().filter(|e| str_at(e, &["Type"]) == Some("Api")) {
                let path = str_at(event, &["Properties", "Path"]).expect("Path");
                let method = str_at(event, &["Properties", "Method"]).expect("Method");
                out.insert((method.to_ascii_uppercase(), path.to_owned()));
            }
        }
        out
    }

    /// (Function dimension, metric name) of every `Contrail` metric the dashboard plots, from plain metric
    /// rows (with CloudWatch's `.` and `...` shorthands) and from `SEARCH` expressions.
    fn dashboard_metrics(&self) -> BTreeSet<(String, String)> {
        let dashboard = self
            .root
            .get("Resources")
            .and_then(Value::as_mapping)
            .expect("Resources")
            .values()
            .find(|r| str_at(r, &["Type"]) == Some("AWS::CloudWatch::Dashboard"))
            .expect("a dashboard");
        let body = dashboard.get("Properties").and_then(|p| p.get("DashboardBody")).map(untag).expect("DashboardBody");
        let text = body.as_str().or_else(|| body.get(0).and_then(Value::as_str)).expect("the body's JSON text");
        let json: serde_json::Value = serde_json::from_str(text).expect("the dashboard body is JSON");
        let mut out = BTreeSet::new();
        for widget in json["widgets"].as_array().expect("widgets") {
            let Some(rows) = widget["properties"]["metrics"].as_array() else { continue };
            let mut previous: Vec<String> = Vec::new();
            for row in rows.iter().filter_map(|r| r.as_array()) {
                let cells: Vec<&serde_json::Value> = row.iter().filter(|c| !c.is_object()).collect();
                let mut current = Vec::new();
                if let Some(expression) = row.iter().find_map(|c| c.get("expression")).and_then(|e| e.as_str()) {
                    if expression.contains("{Contrail") {
                        let function = quoted_after(expression, "Function=").expect("Function in SEARCH");
                        let metric = quoted_after(expression, "MetricName=").expect("MetricName in SEARCH");
                        out.insert((function, metric));
                    }
                    continue;
                }
                if cells.first().and_then(|c| c.as_str()) == Some("...") {
                    // `...` repeats the previous row, with any further cells replacing its last ones.
                    current = previous.clone();
                    let rest: Vec<String> = cells[1..].iter().map(|c| c.as_str().unwrap_or("").to_owned()).collect();
                    let start = current.len().saturating_sub(rest.len());
                    current.truncate(start);
                    current.extend(rest);
                } else {
                    for (i, cell) in cells.iter().enumerate() {
                        let cell = cell.as_str().unwrap_or("");
                        current.push(if cell == "." {
                            previous.get(i).cloned().unwrap_or_default()
                        } else {
                            cell.to_owned()
                        });
                    }
                }
                if current.first().map(String::as_str) == Some("Contrail") {
                    let function = current.iter().position(|c| c == "Function").and_then(|i| current.get(i + 1));
                    let function = function.expect("a Contrail metric row names its Function").clone();
                    out.insert((function, current[1].clone()));
                }
                previous = current;
            }
        }
        out
    }
}

/// The values CloudFormation lets a parameter take: a Number's range, a String's pattern and length,
/// either's allowed values.
struct ParameterConstraint {
    number: bool,
    min: Option<f64>,
    max: Option<f64>,
    pattern: Option<regex::Regex>,
    allowed: Option<Vec<String>>,
}

impl ParameterConstraint {
    fn of(parameter: &Value) -> Self {
        let number = str_at(parameter, &["Type"]) == Some("Number");
        let f = |key: &str| parameter.get(key).and_then(Value::as_f64);
        // CloudFormation matches the whole value against the pattern.
        let pattern = str_at(parameter, &["AllowedPattern"])
            .map(|p| regex::Regex::new(&format!("^(?:{p})$")).unwrap_or_else(|e| panic!("AllowedPattern {p}: {e}")));
        let allowed = parameter.get("AllowedValues").and_then(Value::as_sequence).map(|values| {
            values.iter().map(|v| v.as_str().map(str::to_owned).unwrap_or_else(|| to_json(v).to_string())).collect()
        });
        let (min, max) = if number { (f("MinValue"), f("MaxValue")) } else { (None, None) };
        Self { number, min, max, pattern, allowed }
    }

    fn accepts(&self, value: &str) -> bool {
        if self.number {
            let Ok(n) = value.parse::<f64>() else { return false };
            if self.min.is_some_and(|m| n < m) || self.max.is_some_and(|m| n > m) {
                return false;
            }
        }
        self.pattern.as_ref().is_none_or(|p| p.is_match(value))
            && self.allowed.as_ref().is_none_or(|a| a.iter().any(|v| v == value))
    }
}

fn actions(statement: &Value) -> Vec<String> {
    match statement.get("Action") {
        Some(Value::String(a)) => vec![a.clone()],
        Some(Value::Sequence(list)) => list.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

/// Strips a CloudFormation tag (`!Ref`, `!Sub`, `!GetAtt` parse as tagged values).
fn untag(value: &Value) -> &Value {
    match value {
        Value::Tagged(tagged) => &tagged.value,
        other => other,
    }
}

/// The parameters a `!Sub [text, {variable: ...}]` variable may be `!Ref`fed from, through `!If`s.
fn sub_variable_refs(value: &Value, variable: &str) -> Vec<String> {
    let Value::Tagged(tagged) = value else { return Vec::new() };
    let Some(map) = tagged.value.as_sequence().and_then(|args| args.get(1)).and_then(|m| m.get(variable)) else {
        return Vec::new();
    };
    branches(map).into_iter().filter_map(ref_target).map(str::to_owned).collect()
}

/// The values an `!If [condition, a, b]` may take (`AWS::NoValue` left out); any other value itself.
fn branches(value: &Value) -> Vec<&Value> {
    match value {
        Value::Tagged(tagged) if tagged.tag == "If" => {
            let args = tagged.value.as_sequence().expect("!If [condition, then, else]");
            args[1..].iter().flat_map(branches).collect()
        }
        other if ref_target(other) == Some("AWS::NoValue") => Vec::new(),
        other => vec![other],
    }
}

/// Every value stored under `key`, at any depth.
fn values_of_key<'a>(value: &'a Value, key: &str) -> Vec<&'a Value> {
    let mut out = Vec::new();
    match value {
        Value::Mapping(map) => {
            for (k, v) in map {
                if k.as_str() == Some(key) {
                    out.push(v);
                }
                out.extend(values_of_key(v, key));
            }
        }
        Value::Sequence(items) => items.iter().for_each(|i| out.extend(values_of_key(i, key))),
        Value::Tagged(tagged) => out.extend(values_of_key(&tagged.value, key)),
        _ => {}
    }
    out
}

/// `!Ref name`, as the template would write it.
fn ref_to(name: &str) -> Value {
    Value::Tagged(Box::new(serde_norway::value::TaggedValue {
        tag: serde_norway::value::Tag::new("Ref"),
        value: Value::String(name.to_owned()),
    }))
}

fn ref_target(value: &Value) -> Option<&str> {
    match value {
        Value::Tagged(tagged) if tagged.tag == "Ref" => tagged.value.as_str(),
        other => other.get("Ref").and_then(Value::as_str),
    }
}

fn getatt_target(value: &Value) -> Option<String> {
    match value {
        Value::Tagged(tagged) if tagged.tag == "GetAtt" => {
            tagged.value.as_str().and_then(|s| s.split('.').next()).map(str::to_owned)
        }
        _ => None,
    }
}

fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut at = value;
    for key in path {
        at = untag(at).get(*key)?;
    }
    untag(at).as_str()
}

/// The template's YAML as JSON, tags written as `{"!Tag": value}` (for substring checks on resources).
fn to_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Number(n) => serde_json::from_str(&n.to_string()).unwrap_or(serde_json::Value::Null),
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::Sequence(items) => serde_json::Value::Array(items.iter().map(to_json).collect()),
        Value::Mapping(map) => serde_json::Value::Object(
            map.iter().map(|(k, v)| (k.as_str().unwrap_or_default().to_owned(), to_json(v))).collect(),
        ),
        Value::Tagged(tagged) => serde_json::json!({ tagged.tag.to_string(): to_json(&tagged.value) }),
    }
}

/// The text between the quotes following `key` (`Function="query"` gives `query`).
fn quoted_after(text: &str, key: &str) -> Option<String> {
    let rest = &text[text.find(key)? + key.len()..];
    let rest = rest.strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_owned())
}

// --- the workspace ------------------------------------------------------------------------------------

struct Crate {
    /// The member's directory, relative to the workspace root (`functions/query`).
    member: String,
    binaries: BTreeMap<String, PathBuf>,
}

impl Crate {
    fn load(root: &Path, member: &str) -> Self {
        let dir = &root.join(member);
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).expect("member Cargo.toml");
        let mut name = String::new();
        let mut binaries = BTreeMap::new();
        let mut section = String::new();
        let mut bin: (Option<String>, Option<String>) = (None, None);
        let flush = |bin: &mut (Option<String>, Option<String>), binaries: &mut BTreeMap<String, PathBuf>| {
            if let (Some(n), path) = std::mem::take(bin) {
                let path = path.unwrap_or_else(|| format!("src/bin/{n}.rs"));
                binaries.insert(n, dir.join(path));
            }
        };
        for line in manifest.lines().map(str::trim) {
            if line.starts_with('[') {
                flush(&mut bin, &mut binaries);
                section = line.to_owned();
                continue;
            }
            let Some((key, value)) = line.split_once('=') else { continue };
            let (key, value) = (key.trim(), value.trim().trim_matches('"'));
            match section.as_str() {
                "[package]" if key == "name" => name = value.to_owned(),
                "[[bin]]" if key == "name" => bin.0 = Some(value.to_owned()),
                "[[bin]]" if key == "path" => bin.1 = Some(value.to_owned()),
                _ => {}
            }
        }
        flush(&mut bin, &mut binaries);
        if binaries.is_empty() && dir.join("src/main.rs").exists() {
            binaries.insert(name.clone(), dir.join("src/main.rs"));
        }
        Self { member: member.to_owned(), binaries }
    }
}

struct Workspace {
    crates: Vec<Crate>,
}

impl Workspace {
    fn load() -> Self {
        let root = workspace_root();
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("workspace Cargo.toml");
        let members = manifest.split("members").nth(1).and_then(|s| s.split(']').next()).expect("members");
        let crates = members.split('"').skip(1).step_by(2).map(|member| Crate::load(&root, member)).collect::<Vec<_>>();
        assert!(crates.len() >= 5, "workspace members found: {}", crates.len());
        Self { crates }
    }

    fn crate_with_binary(&self, binary: &str) -> Option<&Crate> {
        self.crates.iter().find(|c| c.binaries.contains_key(binary) && c.binaries[binary].exists())
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("shared/ sits in the workspace").to_path_buf()
}
