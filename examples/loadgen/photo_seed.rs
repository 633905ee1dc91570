//! Mode `photos`, part 1: a photo site of a given size, written into the server's database
//! before the server starts. People, photos, follows, comments and tags are rows inserted in
//! bulk through netdisk-core's models and mini-orm's `insert_all` (which keeps the search index,
//! as the service's own writes do); one real photo is uploaded through the service, and every
//! seeded photo shares its stored bytes and variants (content-addressed storage stores a
//! picture once however many photos show it, so nothing here is fake to the pages).
//!
//! Descriptions and comments are drawn from a vocabulary of English-like words and Chinese
//! two-character words with a Zipf distribution (a few words are common, most are rare), which
//! is also how the search queries are drawn.

use std::path::Path;
use std::time::Instant;

use bytes::Bytes;
use mini_orm::{Db, Model};
use netdisk_core::models::{
    AccountEmail, Blob, Comment, Follow, Photo, PhotoTag, PhotoVariant, Tag, User,
};
use netdisk_core::{Config, Netdisk, NewAccount};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::proto::PASSWORD;

/// Rows per `insert_all` (and per transaction).
const BATCH: usize = 2_000;

/// Words in the vocabulary of descriptions, comments and queries.
const VOCABULARY: usize = 5_000;

/// Tags there are; each photo has up to three.
const TAGS: usize = 300;

/// The size of the site to seed.
#[derive(Debug, Clone, Copy)]
pub struct SiteSize {
    /// People (accounts with a confirmed e-mail address).
    pub people: usize,
    /// Photos, spread over the people.
    pub photos: usize,
    /// Follows, spread evenly over the people (each follows `follows / people` others).
    pub follows: usize,
    /// Comments on random photos by random people.
    pub comments: usize,
}

/// What the seeded site looks like to the load: its people's names and its words.
pub struct Site {
    /// Every person's name; all share the password [`PASSWORD`] (as the Youku client sends it).
    pub people: Vec<String>,
    /// The vocabulary, most common first.
    pub words: Words,
}

/// Words drawn with a Zipf distribution (exponent 1): the `k`-th word about `1/k` as often as
/// the first.
pub struct Words {
    words: Vec<String>,
    /// Cumulative weights, for drawing.
    cumulative: Vec<f64>,
}

impl Words {
    fn new(count: usize) -> Words {
        const SYLLABLES: [&str; 24] = [
            "ka", "lo", "mi", "ren", "sa", "to", "vel", "ni", "qua", "ber", "do", "fi", "gan",
            "hu", "jo", "ke", "lu", "mor", "pe", "ri", "su", "ta", "wen", "zo",
        ];
        const HAN: [&str; 40] = [
            "山", "水", "海", "天", "花", "猫", "狗", "城", "市", "夜", "日", "月", "雪", "雨",
            "风", "云", "湖", "河", "树", "林", "光", "影", "春", "夏", "秋", "冬", "人", "家",
            "街", "桥", "路", "灯", "星", "鸟", "鱼", "草", "石", "门", "窗", "茶",
        ];
        let mut words = Vec::with_capacity(count);
        let mut n = 0usize;
        while words.len() < count {
            // Every fifth word is Chinese: two characters, as most Chinese words are.
            if n % 5 == 4 {
                let (a, b) = (n / 5 % HAN.len(), n / 5 / HAN.len() % HAN.len());
                words.push(format!("{}{}", HAN[a], HAN[(a + b + 1) % HAN.len()]));
            } else {
                let mut word = String::new();
                let mut k = n;
                for _ in 0..3 {
                    word.push_str(SYLLABLES[k % SYLLABLES.len()]);
                    k /= SYLLABLES.len();
                    if k == 0 {
                        break;
                    }
                }
                words.push(word);
            }
            n += 1;
        }
        words.sort();
        words.dedup();
        let mut total = 0.0;
        let cumulative = (1..=words.len())
            .map(|rank| {
                total += 1.0 / rank as f64;
                total
            })
            .collect();
        Words { words, cumulative }
    }

    /// A word drawn by popularity.
    pub fn draw(&self, rng: &mut StdRng) -> &str {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let at = rng.random_range(0.0..total);
        let index = self.cumulative.partition_point(|&c| c < at);
        &self.words[index.min(self.words.len() - 1)]
    }

    /// `count` words drawn by popularity, separated by spaces.
    pub fn sentence(&self, rng: &mut StdRng, count: usize) -> String {
        let mut text = String::new();
        for i in 0..count {
            if i > 0 {
                text.push(' ');
            }
            text.push_str(self.draw(rng));
        }
        text
    }
}

/// Seeds a site of `size` into the database of a server that will run with `data_dir` and
/// `database_url`, uploading `picture` as the one real photo. Prints what it did and how long
/// it took.
pub async fn seed(
    data_dir: &Path,
    database_url: Option<String>,
    size: SiteSize,
    picture: Bytes,
    seed: u64,
) -> anyhow::Result<Site> {
    let started = Instant::now();
    let config = Config {
        data_dir: data_dir.to_owned(),
        database_url,
        ..Config::default()
    };
    let url = config.database_url();
    let (netdisk, _) = Netdisk::open(config).await?; // creates the directory and the schema
    let db = Db::connect(&url).await?;
    let mut rng = StdRng::seed_from_u64(seed);
    let words = Words::new(VOCABULARY);
    let password = examples::hash_password(PASSWORD);
    let people: Vec<String> = (0..size.people).map(|i| format!("person{i}")).collect();

    // The first person through the service (a real password hash, then copied), with a
    // confirmed address, uploads the real photo.
    let first = netdisk
        .accounts()
        .register(NewAccount::user(&people[0], &password))
        .await?;
    let first_user = User::get(&db, first.id).await?;
    confirm_emails(&db, [first.id].into_iter()).await?;
    let login = netdisk
        .accounts()
        .login(&people[0], &password, None)
        .await?;
    let real = netdisk
        .photos()
        .upload(&login.caller, picture, "the real one")
        .await?;
    let template = Photo::get(&db, real).await?;
    let variants = PhotoVariant::query()
        .filter(PhotoVariant::PHOTO_ID.eq(real))
        .all(&db)
        .await?;

    let users = (1..size.people).map(|i| User {
        id: 0,
        name: people[i].clone(),
        ..first_user.clone()
    });
    insert_batched(&db, users).await?;
    let ids: Vec<i64> = User::query()
        .order_by(User::ID.asc())
        .all(&db)
        .await?
        .into_iter()
        .map(|user| user.id)
        .collect();
    confirm_emails(&db, ids.iter().copied().skip(1)).await?;
    println!(
        "set-up: {} people in {:.1} s",
        ids.len(),
        started.elapsed().as_secs_f64()
    );

    let tags: Vec<Tag> = (0..TAGS)
        .map(|i| Tag {
            id: 0,
            name: format!(
                "{}{i}",
                words.words[i * 7 % words.words.len()].to_lowercase()
            ),
        })
        .collect();
    insert_batched(&db, tags.iter().cloned()).await?;
    let tags = Tag::query().order_by(Tag::ID.asc()).all(&db).await?;

    // Photos, oldest first, each by a random person; ids follow in insertion order.
    let now = template.created_at;
    let mut photo_tags = Vec::new();
    let mut photos = Vec::with_capacity(size.photos);
    for i in 0..size.photos {
        let count = rng.random_range(0..=3usize);
        let mut names = Vec::new();
        for _ in 0..count {
            let tag = &tags[rng.random_range(0..tags.len())];
            if !names.contains(&tag.name) {
                names.push(tag.name.clone());
                photo_tags.push((i, tag.id));
            }
        }
        let length = rng.random_range(4..=12usize);
        photos.push(Photo {
            id: 0,
            owner_id: ids[rng.random_range(0..ids.len())],
            description: words.sentence(&mut rng, length),
            tag_names: names.join(" "),
            created_at: now - (size.photos - i) as i64,
            ..template.clone()
        });
    }
    let first_id = template.id + 1;
    insert_batched(&db, photos.into_iter()).await?;
    let variant_rows = (0..size.photos as i64).flat_map(|i| {
        variants.iter().map(move |v| PhotoVariant {
            id: 0,
            photo_id: first_id + i,
            ..v.clone()
        })
    });
    insert_batched(&db, variant_rows).await?;
    let tag_rows = photo_tags.into_iter().map(|(i, tag_id)| PhotoTag {
        id: 0,
        photo_id: first_id + i as i64,
        tag_id,
    });
    insert_batched(&db, tag_rows).await?;
    // The seeded photos hold references to the real one's bytes, as photos of the same picture
    // would.
    let mut blobs = vec![template.blob_id];
    blobs.extend(variants.iter().map(|v| v.blob_id));
    Blob::query()
        .filter(Blob::ID.is_in(blobs))
        .update(&db, [Blob::REFS.increment(size.photos as i64)])
        .await?;
    println!(
        "set-up: {} photos with their variants and tags in {:.1} s",
        size.photos,
        started.elapsed().as_secs_f64()
    );

    // Follows: each person follows the same number of others, chosen at random.
    let per_person = size.follows / ids.len().max(1);
    let follows = ids.iter().flat_map(|&follower| {
        let mut chosen = std::collections::BTreeSet::new();
        while chosen.len() < per_person.min(ids.len() - 1) {
            let followed = ids[rng.random_range(0..ids.len())];
            if followed != follower {
                chosen.insert(followed);
            }
        }
        chosen
            .into_iter()
            .map(move |followed_id| Follow {
                id: 0,
                follower_id: follower,
                followed_id,
                created_at: now,
            })
            .collect::<Vec<_>>()
    });
    insert_batched(&db, follows).await?;
    let last_photo = first_id + size.photos as i64 - 1;
    let mut comments = Vec::with_capacity(size.comments);
    for _ in 0..size.comments {
        let length = rng.random_range(3..=15usize);
        comments.push(Comment {
            id: 0,
            photo_id: rng.random_range(first_id..=last_photo.max(first_id)),
            author_id: ids[rng.random_range(0..ids.len())],
            body: words.sentence(&mut rng, length),
            replied_to: None,
            created_at: now,
        });
    }
    insert_batched(&db, comments.into_iter()).await?;
    println!(
        "set-up: {} follows and {} comments; the whole site in {:.1} s",
        per_person * ids.len(),
        size.comments,
        started.elapsed().as_secs_f64()
    );
    drop(netdisk);
    db.close().await?;
    Ok(Site { people, words })
}

/// Gives each of the accounts `ids` a confirmed address `<id>@loadgen.test`.
async fn confirm_emails(db: &Db, ids: impl Iterator<Item = i64>) -> anyhow::Result<()> {
    let rows = ids.map(|user_id| AccountEmail {
        id: 0,
        user_id,
        address: format!("{user_id}@loadgen.test"),
        confirmed_at: Some(1),
    });
    insert_batched(db, rows).await
}

/// Inserts `rows` in transactions of [`BATCH`] rows.
async fn insert_batched<M: Model>(db: &Db, rows: impl Iterator<Item = M>) -> anyhow::Result<()> {
    let mut rows = rows.peekable();
    while rows.peek().is_some() {
        let batch: Vec<M> = rows.by_ref().take(BATCH).collect();
        let mut tx = db.begin().await?;
        M::insert_all(&mut tx, &batch).await?;
        tx.commit().await?;
    }
    Ok(())
}
