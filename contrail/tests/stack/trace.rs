//! `contrail up --trace`, the local X-Ray: each request and each batch prints its subsegments as one block.

use crate::common::*;

/// The block of the first trace whose header line contains `what`: its header and subsegment lines.
fn block<'a>(stdout: &'a str, what: &str) -> Option<Vec<&'a str>> {
    let mut lines = stdout.lines().skip_while(|l| !(l.starts_with("trace 1-") && l.contains(what)));
    let header = lines.next()?;
    let mut out = vec![header];
    out.extend(lines.take_while(|l| l.starts_with("  +")));
    Some(out)
}

#[test]
fn each_request_and_batch_prints_its_subsegments_as_one_block() {
    let dir = workdir();
    let stack = Stack::start(dir.path(), &["--trace", "--rate", "200", "--batch-window", "100"]);
    let token = stack.dev_token.clone().expect("a dev token");
    let (status, _) = stack.get("/flights?limit=5", Some(&token));
    assert_eq!(status, 200);

    // The path is the one API Gateway gives the function: with the stage.
    let request = eventually(10, "the request's trace block", || {
        block(&stack.stdout_text(), "GET /local/flights?limit=5 ->").map(|b| b.join("\n"))
    });
    let lines: Vec<&str> = request.lines().collect();
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(&header[..5], ["trace", header[1], "GET", "/local/flights?limit=5", "->"], "{request}");
    assert_eq!(header[1].split('-').map(str::len).collect::<Vec<_>>(), [1, 8, 24], "an X-Ray trace id: {request}");
    assert_eq!(header[5], "200", "{request}");
    assert!(lines[1..].iter().any(|l| l.ends_with("  list_flights")), "the store call is a subsegment: {request}");
    for line in &lines[1..] {
        // "  +   0.1 ms     2.9 ms  sqlite@/path/contrail.db  list_flights"
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert!(fields[0].starts_with('+') && fields[2] == "ms" && fields[4] == "ms", "{line}");
        assert!(fields[1].parse::<f64>().is_ok() && fields[3].parse::<f64>().is_ok(), "{line}");
        assert!(fields[5].starts_with("sqlite@"), "{line}");
    }

    let batch =
        eventually(20, "a batch's trace block", || block(&stack.stdout_text(), "ingest ").map(|b| b.join("\n")));
    assert!(batch.lines().next().unwrap().contains(" stored, "), "{batch}");
    assert!(batch.lines().any(|l| l.ends_with("  write_snapshots")), "the batch's transaction: {batch}");
    stack.stop();
}
