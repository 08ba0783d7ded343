//! Help, version, and errors for bad invocations.
use super::*;

#[test]
fn help_lists_commands_and_examples() {
    let out = bin().arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in ["init", "ingest", "catalog", "sql", "generate", "demo"] {
        assert!(text.contains(cmd), "--help lacks {cmd}: {text}");
    }
    for sub in [vec!["ingest", "movielens"], vec!["catalog", "lineage"], vec!["sql"], vec!["demo"], vec!["generate", "movielens"], vec!["init"]] {
        let out = bin().args(&sub).arg("--help").output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success());
        assert!(text.contains("Example"), "{sub:?} --help has no example: {text}");
    }
}

#[test]
fn no_workspace_says_how_to_create_one() {
    let tmp = tempfile::tempdir().unwrap();
    let out = bin().current_dir(tmp.path()).args(["catalog", "list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("reelhouse init"), "{err}");
}

#[test]
fn bad_table_names_and_days_are_explained() {
    let (_tmp, ws) = workspace();
    let out = run(&ws, &["catalog", "show", "ratings"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("zone.name"));
    let out = run(&ws, &["ingest", "movielens", "/nonexistent", "--ds", "tomorrow"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("YYYY-MM-DD"));
}

#[test]
fn ingest_of_a_folder_without_movielens_files_names_what_it_expects() {
    let (tmp, ws) = workspace();
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = run(&ws, &["ingest", "movielens", empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("u.data") && err.contains("ratings.csv"), "{err}");
}

#[test]
fn init_twice_is_refused() {
    let (_tmp, ws) = workspace();
    let out = bin().arg("init").arg(&ws).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already"));
}
