//! Code generation: the column constants, `FromRow` and `Table` (every `Table` is a `Model`).

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, Lit};

use crate::ast::{Field, Model};
use crate::attr::{DefaultLit, Errors, OnDelete};
use crate::valid;

pub fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let model = Model::from_input(input, &mut errors)?;
    valid::check(&model, &mut errors);
    errors.finish()?;
    let primary_key = model.primary_key().expect("checked by valid::check");

    let ident = model.ident;
    let table = &model.table;
    let constants = model.fields.iter().map(|f| column_constant(ident, f));
    let relations = model
        .fields
        .iter()
        .filter_map(|f| relation_constant(ident, f));
    let column_defs = model.fields.iter().map(column_def);
    let column_names = model.fields.iter().map(|f| &f.column);
    let indexes = index_defs(&model);
    let decoded = model.fields.iter().enumerate().map(|(i, f)| {
        let (name, ty) = (f.ident, f.ty);
        quote_spanned!(ty.span()=> #name: row.take_with(#i, <#ty as ::mini_orm::FieldType>::DECODERS)?)
    });
    let key = model.fields[primary_key].ident;
    let values = model
        .fields
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != primary_key)
        .map(|(_, f)| {
            let (name, ty) = (f.ident, f.ty);
            quote_spanned!(ty.span()=> <#ty as ::mini_orm::FieldType>::to_value(&self.#name))
        });

    let searchable = model.fields.iter().filter(|f| f.attrs.searchable.is_some());
    let searchable_columns = searchable.clone().map(|f| &f.column);
    let search_texts = searchable.map(|f| {
        let (name, ty) = (f.ident, f.ty);
        quote_spanned!(ty.span()=>
            if let ::core::option::Option::Some(text) = <#ty as ::mini_orm::SearchText>::search_text(&self.#name) {
                out.push(text);
            }
        )
    });

    Ok(quote! {
        #[automatically_derived]
        impl #ident {
            #(#constants)*
            #(#relations)*
        }

        #[automatically_derived]
        impl ::mini_orm::FromRow for #ident {
            const COLUMN_NAMES: &'static [&'static str] = &[#(#column_names),*];

            fn from_row(row: &::mini_orm::Row<'_>) -> ::mini_orm::Result<Self> {
                ::core::result::Result::Ok(Self { #(#decoded),* })
            }
        }

        #[automatically_derived]
        impl ::mini_orm::Table for #ident {
            const DEF: &'static ::mini_orm::TableDef = &::mini_orm::TableDef {
                name: #table,
                columns: &[#(#column_defs),*],
                primary_key: #primary_key,
                indexes: &[#(#indexes),*],
            };

            fn primary_key(&self) -> i64 {
                self.#key
            }

            fn set_primary_key(&mut self, id: i64) {
                self.#key = id;
            }

            fn push_values<'a>(&'a self, out: &mut ::std::vec::Vec<::mini_orm::Value<'a>>) {
                #(out.push(#values);)*
            }

            const SEARCHABLE: &'static [&'static str] = &[#(#searchable_columns),*];

            fn push_search_texts<'a>(&'a self, out: &mut ::std::vec::Vec<&'a str>) {
                #(#search_texts)*
            }
        }
    })
}

fn column_constant(model: &syn::Ident, field: &Field<'_>) -> TokenStream {
    let (constant, ty, column) = (&field.constant, field.ty, &field.column);
    let doc = format!("The `{column}` column, for filters, ordering and updates.");
    quote_spanned! {ty.span()=>
        #[doc = #doc]
        pub const #constant: ::mini_orm::Column<#model, #ty> = ::mini_orm::Column::new(#column);
    }
}

/// For a `references = Parent` field: `<CONSTANT>_REF`, the [`Relation`] that loads the
/// parents of a page of rows, or the children of a page of parents, in one query.
fn relation_constant(model: &syn::Ident, field: &Field<'_>) -> Option<TokenStream> {
    let parent = field.attrs.references.as_ref()?;
    let (name, ty, column) = (field.ident, field.ty, &field.column);
    let constant = quote::format_ident!("{}_REF", field.constant);
    let doc = format!(
        "The relation of the `{column}` column to the rows it references: their parents \
         (`load`) or, from the parents' keys, their children (`children_of`), each in one query."
    );
    Some(quote_spanned! {parent.span()=>
        #[doc = #doc]
        pub const #constant: ::mini_orm::Relation<#model, #parent> = ::mini_orm::Relation::new(
            #column,
            |row: &#model| <#ty as ::mini_orm::FieldType>::to_value(&row.#name),
        );
    })
}

fn column_def(field: &Field<'_>) -> TokenStream {
    let (ty, column) = (field.ty, &field.column);
    let max_len = match field.attrs.max_len {
        Some(n) => quote!(::core::option::Option::Some(#n)),
        None => quote!(::core::option::Option::None),
    };
    let default = match &field.attrs.default {
        Some(lit) => {
            let value = default_value(lit);
            quote!(::core::option::Option::Some(#value))
        }
        None => quote!(::core::option::Option::None),
    };
    let references = match &field.attrs.references {
        Some(parent) => {
            let on_delete = match field.attrs.on_delete.map(|(action, _)| action) {
                None | Some(OnDelete::Restrict) => quote!(Restrict),
                Some(OnDelete::Cascade) => quote!(Cascade),
                Some(OnDelete::SetNull) => quote!(SetNull),
            };
            quote_spanned! {parent.span()=>
                ::core::option::Option::Some(::mini_orm::ForeignKey {
                    parent: || <#parent as ::mini_orm::Table>::DEF,
                    on_delete: ::mini_orm::OnDelete::#on_delete,
                })
            }
        }
        None => quote!(::core::option::Option::None),
    };
    quote_spanned! {ty.span()=>
        ::mini_orm::ColumnDef {
            name: #column,
            sql_type: <#ty as ::mini_orm::FieldType>::SQL_TYPE,
            nullable: <#ty as ::mini_orm::FieldType>::NULLABLE,
            max_len: #max_len,
            default: #default,
            references: #references,
        }
    }
}

fn default_value(default: &DefaultLit) -> TokenStream {
    let sign = if default.negative {
        quote!(-)
    } else {
        quote!()
    };
    match &default.lit {
        Lit::Int(i) => quote!(::mini_orm::DefaultValue::Int(#sign #i)),
        Lit::Float(f) => quote!(::mini_orm::DefaultValue::Float(#sign #f)),
        Lit::Bool(b) => quote!(::mini_orm::DefaultValue::Bool(#b)),
        Lit::Str(s) => quote!(::mini_orm::DefaultValue::Text(#s)),
        _ => unreachable!("attr::default_lit accepts only these literals"),
    }
}

fn index_defs(model: &Model<'_>) -> Vec<TokenStream> {
    let column_of = |name: &syn::Ident| {
        model
            .fields
            .iter()
            .find(|f| f.ident == name)
            .map(|f| f.column.clone())
            .unwrap_or_default()
    };
    let mut defs = Vec::new();
    for field in &model.fields {
        let column = &field.column;
        if field.attrs.unique.is_some() {
            defs.push(quote!(::mini_orm::IndexDef { columns: &[#column], unique: true }));
        }
        if field.attrs.index.is_some() {
            defs.push(quote!(::mini_orm::IndexDef { columns: &[#column], unique: false }));
        }
        // A foreign key gets an index unless one starts with its column already: finding a
        // parent's children (and `ON DELETE`) reads by it. MySQL would create one anyway.
        let leads_an_index = field.attrs.unique.is_some()
            || field.attrs.index.is_some()
            || model
                .indexes
                .iter()
                .any(|i| i.fields.first().is_some_and(|f| f == field.ident));
        if field.attrs.references.is_some() && !leads_an_index {
            defs.push(quote!(::mini_orm::IndexDef { columns: &[#column], unique: false }));
        }
    }
    for index in &model.indexes {
        let columns = index.fields.iter().map(column_of);
        let unique = index.unique;
        defs.push(quote!(::mini_orm::IndexDef { columns: &[#(#columns),*], unique: #unique }));
    }
    defs
}
