//! A typed view of the derive input that keeps the original syn nodes for error spans.

use heck::{ToShoutySnakeCase, ToSnakeCase};
use syn::ext::IdentExt;
use syn::{Data, DeriveInput, Fields, Ident, Type};

use crate::attr::{self, Errors, FieldAttrs, IndexAttr};

/// The struct being derived.
pub struct Model<'a> {
    pub ident: &'a Ident,
    pub table: String,
    pub fields: Vec<Field<'a>>,
    pub indexes: Vec<IndexAttr>,
}

/// One named field.
pub struct Field<'a> {
    pub ident: &'a Ident,
    pub ty: &'a Type,
    /// The column name: `#[field(column = "...")]`, or the field name.
    pub column: String,
    /// The name of the generated column constant (`is_vip` gives `IS_VIP`).
    pub constant: Ident,
    pub attrs: FieldAttrs,
}

impl<'a> Model<'a> {
    /// Reads the input; every problem found is in `errors`.
    pub fn from_input(input: &'a DeriveInput, errors: &mut Errors) -> syn::Result<Self> {
        let fields = match &input.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(named) => &named.named,
                Fields::Unnamed(_) | Fields::Unit => {
                    return Err(syn::Error::new_spanned(
                        &input.ident,
                        "a model needs named fields, one per column: write `struct Name { #[field(primary_key)] id: i64, ... }`",
                    ));
                }
            },
            Data::Enum(data) => {
                return Err(syn::Error::new_spanned(
                    data.enum_token,
                    "`#[derive(Model)]` maps a struct to a table; an enum cannot be a model (to store an enum in a column, implement `mini_orm::FieldType` for it)",
                ));
            }
            Data::Union(data) => {
                return Err(syn::Error::new_spanned(
                    data.union_token,
                    "a union cannot be a model: use a struct with named fields",
                ));
            }
        };
        if !input.generics.params.is_empty() {
            errors.push(syn::Error::new_spanned(
                &input.generics,
                "a model cannot have generic parameters: it maps to one fixed table",
            ));
        }
        let model_attrs = attr::model_attrs(&input.attrs, errors);
        let table = model_attrs.table.map_or_else(
            || input.ident.unraw().to_string().to_snake_case(),
            |t| t.value(),
        );
        let fields = fields
            .iter()
            .map(|field| {
                let ident = field.ident.as_ref().expect("named fields have names");
                let attrs = attr::field_attrs(&field.attrs, errors);
                let name = ident.unraw().to_string();
                Field {
                    ident,
                    ty: &field.ty,
                    column: attrs
                        .column
                        .as_ref()
                        .map_or_else(|| name.clone(), |c| c.value()),
                    constant: Ident::new(&name.to_shouty_snake_case(), ident.span()),
                    attrs,
                }
            })
            .collect();
        Ok(Model {
            ident: &input.ident,
            table,
            fields,
            indexes: model_attrs.indexes,
        })
    }

    pub fn primary_key(&self) -> Option<usize> {
        self.fields
            .iter()
            .position(|f| f.attrs.primary_key.is_some())
    }
}
