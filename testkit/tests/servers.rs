//! The harness's servers prove they are the ones listening: a port another process holds is never
//! taken for a ready server.

use std::net::TcpListener;

use contrail_testkit::moto::MotoServer;
use contrail_testkit::postgres::PgServer;

#[test]
fn moto_is_ready_on_the_port_it_reports_and_a_taken_port_is_reported_with_its_output() {
    let Some(mut moto) = MotoServer::start() else { return };
    assert!(moto.is_alive());
    assert!(moto.output().contains(&format!("Running on http://127.0.0.1:{}", moto.port)), "{}", moto.output());

    // Another process listens on the port (it accepts connections but is not moto): the new child
    // cannot bind it and dies, and that is an error with its output, not a ready server.
    let squatter = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = squatter.local_addr().unwrap().port();
    let err = MotoServer::start_on(moto.exe(), taken).err().expect("a taken port must not look ready");
    assert!(err.contains("Address already in use") || err.contains("exited"), "{err}");

    // Killed, then started again on the same endpoint.
    let port = moto.port;
    moto.kill();
    assert!(!moto.is_alive());
    let mut again = MotoServer::start_on(moto.exe(), port).unwrap_or_else(|why| panic!("{why}"));
    assert_eq!(again.port, port);
    assert!(again.is_alive());
}

#[test]
fn postgres_restarted_on_a_taken_port_fails_with_its_log_then_starts_when_the_port_is_free() {
    let server = match PgServer::start() {
        Ok(s) => s,
        Err(why) => return contrail_testkit::skip("PostgreSQL", &why),
    };
    server.stop().unwrap();
    let squatter = TcpListener::bind(("127.0.0.1", server.port)).unwrap();
    let err = server.start_again().expect_err("a port held by another process must not look ready");
    assert!(err.contains("server log"), "{err}");
    drop(squatter);
    server.start_again().unwrap();
}
