//! The queries a social feed needs, on every backend: `IN (subquery)`, `EXISTS` tied to the row
//! around it, a join returning two models, group-by counts and keyset pagination over a table
//! that grows while it is read.
//! Each is one statement (counted with `StatementLog`).
// The derive makes a column constant per field; these tests filter on some of them only.
#![allow(dead_code)]

use mini_orm::testing::{StatementLog, TestDb};
use mini_orm::{Model, Result, backend_tests};

#[derive(Model, Debug, Clone, PartialEq)]
struct Photo {
    #[field(primary_key)]
    id: i64,
    author_id: i64,
    #[field(max_len = 64)]
    title: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
struct Person {
    #[field(primary_key)]
    id: i64,
    #[field(max_len = 32)]
    name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
struct Follow {
    #[field(primary_key)]
    id: i64,
    follower_id: i64,
    followed_id: i64,
}

#[derive(Model, Debug, Clone, PartialEq)]
struct Favourite {
    #[field(primary_key)]
    id: i64,
    photo_id: i64,
    user_id: i64,
}

/// Authors 1, 2, 3 with photos `a1`, `b2`, `c3`, `d1`, `e2` (the digit is the author); user 9
/// follows authors 1 and 3; user 9 favours `b2` and `d1`, user 8 favours `d1`.
async fn seeded(t: &TestDb) -> Result<Vec<Photo>> {
    t.db.create_table::<Photo>().await?;
    t.db.create_table::<Follow>().await?;
    t.db.create_table::<Favourite>().await?;
    let mut photos = Vec::new();
    for (title, author_id) in [("a1", 1), ("b2", 2), ("c3", 3), ("d1", 1), ("e2", 2)] {
        let mut photo = Photo {
            id: 0,
            author_id,
            title: title.to_owned(),
        };
        photo.save(&t.db).await?;
        photos.push(photo);
    }
    for followed_id in [1, 3] {
        let mut follow = Follow {
            id: 0,
            follower_id: 9,
            followed_id,
        };
        follow.save(&t.db).await?;
    }
    for (photo, user_id) in [(1, 9), (3, 9), (3, 8)] {
        let mut favourite = Favourite {
            id: 0,
            photo_id: photos[photo].id,
            user_id,
        };
        favourite.save(&t.db).await?;
    }
    Ok(photos)
}

fn titles(photos: &[Photo]) -> Vec<&str> {
    photos.iter().map(|p| p.title.as_str()).collect()
}

async fn photos_of_the_people_i_follow_take_one_statement(t: &TestDb) -> Result<()> {
    seeded(t).await?;
    let followed = Follow::query()
        .filter(Follow::FOLLOWER_ID.eq(9))
        .values(Follow::FOLLOWED_ID);
    let log = StatementLog::start();
    let feed = Photo::query()
        .filter(Photo::AUTHOR_ID.in_query(followed.clone()))
        .order_by(Photo::ID.desc())
        .all(&t.db)
        .await?;
    assert_eq!(titles(&feed), ["d1", "c3", "a1"]);
    assert_eq!(log.statements().len(), 1, "{:?}", log.statements());
    drop(log);
    let others = Photo::query()
        .filter(Photo::AUTHOR_ID.not_in_query(followed))
        .order_by(Photo::ID.asc())
        .all(&t.db)
        .await?;
    assert_eq!(titles(&others), ["b2", "e2"]);
    Ok(())
}

async fn exists_ties_the_subquery_to_the_row_around_it(t: &TestDb) -> Result<()> {
    seeded(t).await?;
    let favoured_by = |user: i64| {
        Favourite::query()
            .filter(Favourite::PHOTO_ID.eq_column(Photo::ID) & Favourite::USER_ID.eq(user))
    };
    let mine = Photo::query()
        .filter(mini_orm::exists(favoured_by(9)))
        .order_by(Photo::ID.asc())
        .all(&t.db)
        .await?;
    assert_eq!(titles(&mine), ["b2", "d1"]);
    let not_eights = Photo::query()
        .filter(mini_orm::not_exists(favoured_by(8)) & Photo::AUTHOR_ID.eq(1))
        .all(&t.db)
        .await?;
    assert_eq!(titles(&not_eights), ["a1"]);
    Ok(())
}

async fn group_by_counts_each_value(t: &TestDb) -> Result<()> {
    seeded(t).await?;
    let per_author = Photo::query().count_by(Photo::AUTHOR_ID, &t.db).await?;
    assert_eq!(per_author, [(1, 2), (2, 2), (3, 1)]);
    let favourites = Favourite::query()
        .filter(Favourite::USER_ID.eq(9))
        .count_by(Favourite::USER_ID, &t.db)
        .await?;
    assert_eq!(favourites, [(9, 2)]);
    let none = Photo::query()
        .filter(Photo::AUTHOR_ID.eq(42))
        .count_by(Photo::AUTHOR_ID, &t.db)
        .await?;
    assert!(none.is_empty());
    Ok(())
}

async fn keyset_pages_neither_repeat_nor_skip_while_the_feed_grows(t: &TestDb) -> Result<()> {
    seeded(t).await?;
    let page = |after: Option<i64>| {
        let query = Photo::query().order_by(Photo::ID.desc()).limit(2);
        match after {
            Some(cursor) => query.after(Photo::ID, cursor),
            None => query,
        }
        .all(&t.db)
    };
    let first = page(None).await?;
    assert_eq!(titles(&first), ["e2", "d1"]);
    // New photos arrive while the reader looks at the first page.
    let mut newer = Photo {
        id: 0,
        author_id: 1,
        title: "f1".to_owned(),
    };
    newer.save(&t.db).await?;
    let second = page(first.last().map(|p| p.id)).await?;
    assert_eq!(titles(&second), ["c3", "b2"], "no repeat, no skip");
    let third = page(second.last().map(|p| p.id)).await?;
    assert_eq!(titles(&third), ["a1"]);
    let ascending = Photo::query()
        .after(Photo::ID, first[1].id)
        .all(&t.db)
        .await?;
    assert_eq!(
        titles(&ascending),
        ["e2", "f1"],
        "ascending unless ordered otherwise"
    );
    Ok(())
}

async fn a_join_returns_each_photo_with_its_author_in_one_statement(t: &TestDb) -> Result<()> {
    seeded(t).await?;
    t.db.create_table::<Person>().await?;
    // Ids 1, 2: authors 1 and 2 (author 3 has no row, so `c3` has no partner).
    for name in ["ann", "bob"] {
        let mut person = Person {
            id: 0,
            name: name.to_owned(),
        };
        person.save(&t.db).await?;
    }
    let log = StatementLog::start();
    let pairs = Photo::query()
        .filter(Photo::TITLE.ne("a1"))
        .order_by(Photo::ID.asc())
        .join(Person::ID.eq_column(Photo::AUTHOR_ID))
        .all(&t.db)
        .await?;
    assert_eq!(log.statements().len(), 1, "{:?}", log.statements());
    let seen: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(photo, person)| (photo.title.as_str(), person.name.as_str()))
        .collect();
    assert_eq!(seen, [("b2", "bob"), ("d1", "ann"), ("e2", "bob")]);
    assert!(
        pairs
            .iter()
            .all(|(photo, person)| photo.author_id == person.id),
        "each model read from its own columns, though both have an `id`"
    );
    let bobs = Photo::query()
        .order_by(Photo::ID.desc())
        .limit(1)
        .join(Person::ID.eq_column(Photo::AUTHOR_ID))
        .filter(Person::NAME.eq("bob"))
        .all(&t.db)
        .await?;
    assert_eq!(bobs.len(), 1);
    assert_eq!(bobs[0].0.title, "e2");
    Ok(())
}

backend_tests!(
    a_join_returns_each_photo_with_its_author_in_one_statement,
    photos_of_the_people_i_follow_take_one_statement,
    exists_ties_the_subquery_to_the_row_around_it,
    group_by_counts_each_value,
    keyset_pages_neither_repeat_nor_skip_while_the_feed_grows,
);
