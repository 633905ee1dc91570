//! The crate's modules form layers (drawn in `src/lib.rs`): a file may use its own layer and
//! those below, never one above. This test reads every `crate::` path in the sources (in `use`
//! lines and in code, comments left out) and checks it against the order declared here.

use std::fs;
use std::path::{Path, PathBuf};

/// The layers, bottom first: the top-level modules of each.
const LAYERS: &[&[&str]] = &[
    &["error", "value", "column"],
    &["table"],
    &["sql"],
    &["backend"],
    &["exec"],
    &["model", "query", "raw", "migrate", "search", "relation"],
    &["testing"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn source_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            source_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to: `src/sql/dml.rs` is in `sql`.
fn top_module(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap();
    let first = relative.components().next().unwrap().as_os_str();
    Path::new(first)
        .file_stem()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

/// The first segment of each `crate::` path in `code` (a comment-free line): `crate::sql::dml`
/// gives `sql`, and `crate::{error::Error, value::Value}` gives `error` and `value`.
fn crate_modules(code: &str, out: &mut Vec<String>) {
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let preceded_by_word = rest[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$');
        rest = &rest[at + "crate::".len()..];
        if preceded_by_word {
            continue; // `$crate::` in a macro, or part of a longer name
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name = item.trim().split("::").next().unwrap_or("").trim();
                if !name.is_empty() {
                    out.push(name.to_owned());
                }
            }
        } else {
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            out.push(rest[..end].to_owned());
        }
    }
}

/// `source` without comments, with each multi-line `use` joined onto one line.
fn code_lines(source: &str) -> Vec<(usize, String)> {
    let mut lines = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (n, line) in source.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("").trim();
        if let Some((start, mut joined)) = pending.take() {
            joined.push_str(code);
            if code.ends_with(';') {
                lines.push((start, joined));
            } else {
                pending = Some((start, joined));
            }
        } else if code.contains("use crate::") && !code.ends_with(';') {
            pending = Some((n + 1, code.to_owned()));
        } else {
            lines.push((n + 1, code.to_owned()));
        }
    }
    lines.extend(pending);
    lines
}

#[test]
fn every_module_has_a_layer() {
    let lib = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    for line in lib.lines() {
        let declared = line
            .trim_start_matches("pub ")
            .strip_prefix("mod ")
            .and_then(|rest| rest.strip_suffix(';'));
        if let Some(module) = declared {
            assert!(
                layer_of(module).is_some(),
                "src/lib.rs declares `mod {module}`, which no layer of tests/layers.rs holds"
            );
        }
    }
}

#[test]
fn no_module_uses_a_layer_above_its_own() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    source_files(&src, &mut files);
    files.sort();
    let mut problems = Vec::new();
    for file in files.iter().filter(|f| !f.ends_with("lib.rs")) {
        let shown = file.strip_prefix(&src).unwrap().display();
        let module = top_module(&src, file);
        let Some(own) = layer_of(&module) else {
            problems.push(format!("src/{shown}: module `{module}` is in no layer"));
            continue;
        };
        for (line, code) in code_lines(&fs::read_to_string(file).unwrap()) {
            let mut used = Vec::new();
            crate_modules(&code, &mut used);
            for name in used {
                match layer_of(&name) {
                    Some(layer) if layer <= own => {}
                    Some(_) => problems.push(format!(
                        "src/{shown}:{line}: `{module}` uses `crate::{name}`, a layer above its own"
                    )),
                    None => problems.push(format!(
                        "src/{shown}:{line}: `crate::{name}` is not a module: name the module \
                         that defines it, so that its layer can be checked"
                    )),
                }
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn the_check_sees_each_form_of_path() {
    let mut used = Vec::new();
    for line in [
        "use crate::sql::dml::{self, Clauses};",
        "use crate::{error::Error, value::Value};",
        "return Err(crate::Error::InvalidUrl(message));",
        "$crate::testing::run(backend, body)",
        "my_crate::value::x()",
    ] {
        crate_modules(line, &mut used);
    }
    assert_eq!(used, ["sql", "error", "value", "Error"]);
    let joined = code_lines(
        "use crate::backend::{\n    mysql::MySqlDb, // pool\n    sqlite::SqliteDb,\n};\n",
    );
    assert_eq!(
        joined,
        [(
            1,
            "use crate::backend::{mysql::MySqlDb,sqlite::SqliteDb,};".to_owned()
        )]
    );
}
