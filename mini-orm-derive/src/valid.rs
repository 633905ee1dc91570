//! The rules a model must follow, each reported at the code that breaks it.

use syn::Type;

use crate::ast::Model;
use crate::attr::{Errors, OnDelete};

pub fn check(model: &Model<'_>, errors: &mut Errors) {
    primary_key(model, errors);
    index_fields(model, errors);
    distinct_columns(model, errors);
    searchable_fields(model, errors);
    foreign_keys(model, errors);
}

/// `references` only on an `i64` or `Option<i64>` field (the referenced primary key's type),
/// `on_delete` only with `references`, and `set_null` only on an `Option<i64>`.
fn foreign_keys(model: &Model<'_>, errors: &mut Errors) {
    for field in &model.fields {
        let ty = type_name(field.ty);
        if let Some(path) = &field.attrs.references {
            if field.attrs.primary_key.is_some() {
                errors.push(syn::Error::new_spanned(
                    path,
                    "the primary key cannot reference another model: put `references` on a field of its own",
                ));
            } else if !is_i64(field.ty) && !is_optional_i64(field.ty) {
                errors.push(syn::Error::new_spanned(
                    path,
                    format!(
                        "`references` needs an `i64` or `Option<i64>` field (the referenced primary key), but `{}` is `{ty}`",
                        field.ident
                    ),
                ));
            }
        }
        match field.attrs.on_delete {
            Some((_, span)) if field.attrs.references.is_none() => {
                errors.push(syn::Error::new(
                    span,
                    "`on_delete` needs `references = Model` on the same field",
                ));
            }
            Some((OnDelete::SetNull, span)) if !is_optional_i64(field.ty) => {
                errors.push(syn::Error::new(
                    span,
                    format!(
                        "`on_delete = \"set_null\"` needs an `Option<i64>` field, but `{}` is `{ty}`: a NOT NULL column cannot be set to NULL",
                        field.ident
                    ),
                ));
            }
            _ => {}
        }
    }
}

/// `Option<i64>` (also written with a path, `std::option::Option<i64>`).
fn is_optional_i64(ty: &Type) -> bool {
    last_segment(ty).is_some_and(|s| {
        s.ident == "Option"
            && matches!(&s.arguments, syn::PathArguments::AngleBracketed(args)
                if args.args.len() == 1
                    && matches!(&args.args[0], syn::GenericArgument::Type(inner) if is_i64(inner)))
    })
}

/// The type as written, without spaces.
fn type_name(ty: &Type) -> String {
    quote::ToTokens::to_token_stream(ty)
        .to_string()
        .replace(' ', "")
}

fn primary_key(model: &Model<'_>, errors: &mut Errors) {
    let mut keys = model
        .fields
        .iter()
        .filter_map(|f| f.attrs.primary_key.map(|span| (f, span)));
    let Some((first, _)) = keys.next() else {
        errors.push(syn::Error::new_spanned(
            model.ident,
            "a model needs a primary key: mark one `i64` field with `#[field(primary_key)]`, e.g. `#[field(primary_key)] pub id: i64`",
        ));
        return;
    };
    for (_, span) in keys {
        errors.push(syn::Error::new(
            span,
            format!("duplicate primary key: `{}` is already the primary key; a model has exactly one, so remove this `primary_key`", first.ident),
        ));
    }
    if !is_i64(first.ty) {
        errors.push(syn::Error::new_spanned(
            first.ty,
            "the primary key must be an `i64`: the database generates it (AUTO_INCREMENT / INTEGER PRIMARY KEY) and `save` sets it",
        ));
    }
    let redundant = [
        (
            first.attrs.unique,
            "`unique`: a primary key is unique already",
        ),
        (
            first.attrs.index,
            "`index`: a primary key is indexed already",
        ),
    ];
    for (span, why) in redundant {
        if let Some(span) = span {
            errors.push(syn::Error::new(span, format!("remove {why}")));
        }
    }
    if first.attrs.default.is_some() || first.attrs.max_len.is_some() {
        errors.push(syn::Error::new_spanned(
            first.ident,
            "a primary key takes no `default` or `max_len`: the database generates it",
        ));
    }
}

fn is_i64(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.qself.is_none() && p.path.is_ident("i64"))
}

/// `searchable` only on text: a `String` or an `Option<String>` (the search index holds words
/// and character pairs, not numbers or bytes).
fn searchable_fields(model: &Model<'_>, errors: &mut Errors) {
    for field in &model.fields {
        if let Some(span) = field.attrs.searchable
            && !is_text(field.ty)
        {
            errors.push(syn::Error::new(
                span,
                format!(
                    "`searchable` needs a text field (`String` or `Option<String>`), but `{}` is `{}`: the search index holds words, not other values",
                    field.ident,
                    type_name(field.ty)
                ),
            ));
        }
    }
}

/// `String` or `Option<String>` (also written with a path, `std::string::String`).
fn is_text(ty: &Type) -> bool {
    let is_string =
        |ty: &Type| last_segment(ty).is_some_and(|s| s.ident == "String" && s.arguments.is_none());
    is_string(ty)
        || last_segment(ty).is_some_and(|s| {
            s.ident == "Option"
                && matches!(&s.arguments, syn::PathArguments::AngleBracketed(args)
                    if args.args.len() == 1
                        && matches!(&args.args[0], syn::GenericArgument::Type(inner) if is_string(inner)))
        })
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        _ => None,
    }
}

fn index_fields(model: &Model<'_>, errors: &mut Errors) {
    for index in &model.indexes {
        for name in &index.fields {
            if !model.fields.iter().any(|f| f.ident == name) {
                let known: Vec<String> = model.fields.iter().map(|f| f.ident.to_string()).collect();
                errors.push(syn::Error::new_spanned(
                    name,
                    format!(
                        "no field `{name}` in `{}`; index fields must be among: {}",
                        model.ident,
                        known.join(", ")
                    ),
                ));
            }
        }
    }
}

fn distinct_columns(model: &Model<'_>, errors: &mut Errors) {
    for (i, field) in model.fields.iter().enumerate() {
        if let Some(earlier) = model.fields[..i].iter().find(|f| f.column == field.column) {
            errors.push(syn::Error::new_spanned(
                field.ident,
                format!("column `{}` is already used by field `{}`: give one of them another `#[field(column = \"...\")]`", field.column, earlier.ident),
            ));
        }
    }
}
