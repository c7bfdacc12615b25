//! The RDS IAM token signer against a vector made with botocore.
//!
//! The expected token was computed once with botocore 1.43 (`RDS.Client.generate_db_auth_token`), with the
//! same credentials, region, endpoint and user, and the signing clock frozen by patching
//! `botocore.auth.get_current_datetime` to return 2026-11-25 12:34:56 UTC:
//!
//! ```python
//! import datetime; from unittest import mock; import botocore.session, botocore.auth
//! s = botocore.session.get_session()
//! s.set_credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
//! rds = s.create_client("rds", region_name="eu-west-1")
//! with mock.patch.object(botocore.auth, "get_current_datetime",
//!                        return_value=datetime.datetime(2026, 11, 25, 12, 34, 56)):
//!     print(rds.generate_db_auth_token("contrail.cluster-abc123.eu-west-1.rds.amazonaws.com", 5432, "contrail_ingest"))
//! ```
//!
//! The second vector adds the session token `IQoJb3JpZ2luX2VjEXAMPLE/session+token=` (`set_credentials`'s third
//! argument), as temporary role credentials in Lambda always have one.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use contrail_shared::rds_iam::generate_token;

const HOST: &str = "contrail.cluster-abc123.eu-west-1.rds.amazonaws.com";
const ACCESS_KEY: &str = "AKIDEXAMPLE";
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

/// 2026-11-25T12:34:56Z.
fn signing_time() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_610_096)
}

#[test]
fn the_token_equals_the_one_botocore_signs_for_the_same_inputs() {
    let credentials = Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "vector");
    let token = generate_token(HOST, 5432, "contrail_ingest", "eu-west-1", &credentials, signing_time()).unwrap();
    assert_eq!(
        token,
        "contrail.cluster-abc123.eu-west-1.rds.amazonaws.com:5432/?Action=connect&DBUser=contrail_ingest\
         &X-Amz-Algorithm=AWS4-HMAC-SHA256\
         &X-Amz-Credential=AKIDEXAMPLE%2F20261125%2Feu-west-1%2Frds-db%2Faws4_request\
         &X-Amz-Date=20261125T123456Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host\
         &X-Amz-Signature=c792f06661ad684be5ceae4004cf80daaf27184c41ab106b7eb16dd31e929efe"
    );
}

#[test]
fn a_session_token_is_signed_into_the_token_as_botocore_does() {
    let credentials = Credentials::new(
        ACCESS_KEY,
        SECRET_KEY,
        Some("IQoJb3JpZ2luX2VjEXAMPLE/session+token=".to_owned()),
        None,
        "vector",
    );
    let token = generate_token(HOST, 5432, "contrail_ingest", "eu-west-1", &credentials, signing_time()).unwrap();
    assert_eq!(
        token,
        "contrail.cluster-abc123.eu-west-1.rds.amazonaws.com:5432/?Action=connect&DBUser=contrail_ingest\
         &X-Amz-Algorithm=AWS4-HMAC-SHA256\
         &X-Amz-Credential=AKIDEXAMPLE%2F20261125%2Feu-west-1%2Frds-db%2Faws4_request\
         &X-Amz-Date=20261125T123456Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host\
         &X-Amz-Security-Token=IQoJb3JpZ2luX2VjEXAMPLE%2Fsession%2Btoken%3D\
         &X-Amz-Signature=cacadbde47980880b450857dc80d23e5ab7db1daf912f1d322385bd6ff55e014"
    );
}

#[test]
fn a_different_signing_time_gives_a_different_token() {
    let credentials = Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "vector");
    let a = generate_token(HOST, 5432, "contrail_ingest", "eu-west-1", &credentials, signing_time()).unwrap();
    let later = signing_time() + Duration::from_secs(1);
    let b = generate_token(HOST, 5432, "contrail_ingest", "eu-west-1", &credentials, later).unwrap();
    assert_ne!(a, b);
}
