//! `#[derive(Model)]` for [mini-orm](https://docs.rs/mini-orm): the compile-time counterpart of a
//! Python metaclass ORM. A model without a primary key, with two, with a field type that has no
//! column type, with an unknown or repeated attribute, or with an index over a field that does
//! not exist is a compile error pointing at the offending code.
//!
//! Stages: [`ast`] reads the struct, [`attr`] its attributes, [`valid`] checks the rules,
//! [`expand`] writes the implementation.

mod ast;
mod attr;
mod expand;
mod valid;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Maps a struct with named fields to a table: implements `mini_orm::Table` and
/// `mini_orm::FromRow` (and so `mini_orm::Model`), and gives each field a column constant. See
/// the `mini_orm` crate for the attributes:
///
/// - on the struct: `#[model(table = "name")]` (default: the struct name in snake_case),
///   `#[model(index(a, b))]`, `#[model(unique(a, b))]`;
/// - on a field: `#[field(primary_key)]` (exactly one, an `i64`), `#[field(unique)]`,
///   `#[field(index)]`, `#[field(max_len = 32)]`, `#[field(default = 0)]`,
///   `#[field(column = "name")]` (default: the field name), `#[field(searchable)]` (a `String` or
///   `Option<String>` whose words `Model::search` finds).
#[proc_macro_derive(Model, attributes(model, field))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
