use memo::cached;

struct Report {
    lines: Vec<String>,
}

#[derive(Debug)]
struct DbError;

#[cached]
fn report(id: u64) -> Result<Report, DbError> {
    Ok(Report {
        lines: vec![id.to_string()],
    })
}

fn main() {
    let _ = report(1).map(|r| r.lines);
}
