//! Searching: a keyword search matches the names that contain the keyword literally, whatever
//! the keyword holds (no wildcards, no SQL).

use serde_json::{Value, json};

use crate::connection::Door;
use crate::matrix::Fixture;
use crate::support::Client;

/// Every movie name, to check a keyword search against.
async fn movie_names(client: &mut Client, fixture: &Fixture) -> Vec<String> {
    let all = json!({"type": "get_movie_list", "session": fixture.user, "movie_type": "all"});
    let list = client.call(all).await;
    list["movie_list"]
        .as_array()
        .expect("a movie list")
        .iter()
        .map(|m| m[0].as_str().unwrap().to_owned())
        .collect()
}

/// A search for `keyword` matches the names that contain it literally (no wildcards, no SQL).
pub(crate) async fn check_keyword(
    door: &mut Door<'_>,
    fixture: &Fixture,
    keyword: &str,
    search: &Value,
    case: &str,
) -> Option<String> {
    let names = movie_names(&mut door.client, fixture).await;
    let matching = names.iter().filter(|name| name.contains(keyword)).count();
    let mut search = search.clone();
    search["limit"] = json!(1000);
    let total = door.client.call(search).await["total"].clone();
    (total != json!(matching))
        .then(|| format!("{case}: total {total}, but {matching} names contain the keyword"))
}
