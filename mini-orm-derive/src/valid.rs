//! The rules a model must follow, each reported at the code that breaks it.

use syn::Type;

use crate::ast::Model;
use crate::attr::Errors;

pub fn check(model: &Model<'_>, errors: &mut Errors) {
    primary_key(model, errors);
    index_fields(model, errors);
    distinct_columns(model, errors);
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
