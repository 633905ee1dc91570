//! Aligned tables for the lists the server returns. Movies and files are numbered (`#`) so that
//! the menu can ask for a number, as the original clients did.

use comfy_table::{CellAlignment, Table, presets};

use crate::api::{FileEntry, Movie, Notice, Record};

fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table.load_style(presets::UTF8_FULL_CONDENSED);
    table.set_header(header.iter().copied());
    table
}

fn right_align(table: &mut Table, columns: &[usize]) {
    for &index in columns {
        if let Some(column) = table.column_mut(index) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
}

/// Movies: number, id, name, free or charge.
pub fn movies(movies: &[Movie]) -> String {
    let mut t = table(&["#", "id", "name", "kind"]);
    for (n, movie) in movies.iter().enumerate() {
        let kind = if movie.is_free { "free" } else { "charge" };
        t.add_row(vec![
            (n + 1).to_string(),
            movie.id.to_string(),
            movie.name.clone(),
            kind.into(),
        ]);
    }
    right_align(&mut t, &[0, 1]);
    t.to_string()
}

/// Download records: movie, time, price.
pub fn records(records: &[Record]) -> String {
    let mut t = table(&["movie", "downloaded at", "price"]);
    for r in records {
        t.add_row(vec![
            r.movie.clone(),
            r.download_time.clone(),
            r.price.to_string(),
        ]);
    }
    right_align(&mut t, &[2]);
    t.to_string()
}

/// Notices: time, title, content.
pub fn notices(notices: &[Notice]) -> String {
    let mut t = table(&["published", "title", "content"]);
    for n in notices {
        t.add_row(vec![
            n.create_time.clone(),
            n.title.clone(),
            n.content.clone(),
        ]);
    }
    t.to_string()
}

/// Personal files: number, id, name, size, upload time.
pub fn files(files: &[FileEntry]) -> String {
    let mut t = table(&["#", "id", "name", "bytes", "uploaded at"]);
    for (n, f) in files.iter().enumerate() {
        t.add_row(vec![
            (n + 1).to_string(),
            f.file_id.to_string(),
            f.file_name.clone(),
            f.file_size.to_string(),
            f.upload_time.clone(),
        ]);
    }
    right_align(&mut t, &[0, 1, 3]);
    t.to_string()
}
