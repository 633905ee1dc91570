//! Compile-fail tests of `#[derive(Model)]` and of the typed query API: one file per error, with
//! the compiler's output pinned next to it (`TRYBUILD=overwrite cargo test --test derive_ui`
//! regenerates the `.stderr` files after a deliberate change).

#[test]
fn bad_models_and_queries_do_not_compile() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
