//! Runs the service as a library on embedded SQLite: an admin uploads a movie and publishes a
//! notice, a user lists, buys VIP and downloads, and keeps a file in the personal netdisk.
//!
//! ```text
//! cargo run -p examples --example quickstart                       # SQLite in ./netdisk-data
//! NETDISK_DATABASE_URL=mysql://root@127.0.0.1:3306/test cargo run -p examples --example quickstart
//! RUST_LOG=mini_orm=debug cargo run -p examples --example quickstart   # show every statement
//! ```

use md5::{Digest, Md5};
use netdisk_core::{Config, MovieQuery, MovieUpload, Netdisk, NewAccount, UserType};
use tokio::io::AsyncReadExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let config = Config::load(None)?;
    let (netdisk, report) = Netdisk::open(config.clone()).await?;
    println!(
        "service on {} with data in {}: {report:?}",
        config.database_url(),
        config.data_dir.display()
    );

    // Each run uses fresh names, so it can be repeated on the same database.
    let run = std::process::id();
    let admin_name = format!("admin-{run}");
    let user_name = format!("viewer-{run}");
    let admin_signup = NewAccount {
        name: &admin_name,
        password: "admin-pw",
        user_type: UserType::Admin,
        real_name: None,
        phone: None,
        address: None,
    };
    match netdisk.accounts().register(admin_signup).await {
        Ok(profile) => println!("registered admin {}", profile.username),
        Err(e) => println!(
            "admin sign-up refused ({e}); set NETDISK_ADMIN_SIGNUP_OPEN=true to allow more admins"
        ),
    }
    let admin = match netdisk
        .accounts()
        .login(&admin_name, "admin-pw", Some(UserType::Admin))
        .await
    {
        Ok(outcome) => Some(outcome.caller),
        Err(_) => None,
    };

    let movie = format!("A short film made by run {run}").into_bytes();
    let movie_md5 = hex::encode(Md5::digest(&movie));
    if let Some(admin) = &admin {
        let upload = MovieUpload {
            name: "short-film.mp4",
            size: movie.len() as u64,
            md5: &movie_md5,
            is_free: false,
        };
        let id = netdisk
            .movies()
            .upload(admin, upload, &mut movie.as_slice())
            .await?;
        println!(
            "admin uploaded movie #{id} ({} bytes, md5 {movie_md5})",
            movie.len()
        );
        netdisk
            .notices()
            .publish(admin, "New movie", "short-film.mp4 is up")
            .await?;
    }

    let viewer = NewAccount {
        name: &user_name,
        password: "user-pw",
        user_type: UserType::User,
        real_name: None,
        phone: None,
        address: None,
    };
    netdisk.accounts().register(viewer).await?;
    let user = netdisk
        .accounts()
        .login(&user_name, "user-pw", None)
        .await?
        .caller;
    let list = netdisk.movies().list(&user, MovieQuery::default()).await?;
    println!(
        "{user_name} sees {} movies; newest: {:?}",
        list.total,
        list.movies.first().map(|m| &m.name)
    );
    netdisk.accounts().buy_vip(&user).await?;
    if let Some(newest) = list.movies.first() {
        let mut download = netdisk.movies().download(&user, newest.id, 0).await?;
        let mut bytes = Vec::new();
        download.transfer.read_to_end(&mut bytes).await?;
        println!(
            "downloaded {} bytes, price {} (VIP), wait {} s",
            bytes.len(),
            download.price,
            download.wait_secs
        );
        download.finish(netdisk.movies()).await?;
    }
    for record in netdisk.movies().records(&user, None, None).await?.iter() {
        println!(
            "record: {} at {} for {}",
            record.movie, record.download_time, record.price
        );
    }
    for notice in netdisk.notices().list(&user, None, Some(3)).await?.iter() {
        println!("notice: {} ({})", notice.title, notice.create_time);
    }
    let note = b"remember the milk";
    let file_id = netdisk
        .files()
        .upload(
            &user,
            "todo.txt",
            note.len() as u64,
            None,
            &mut note.as_slice(),
        )
        .await?;
    println!(
        "personal file #{file_id}: {:?}",
        netdisk
            .files()
            .list(&user)
            .await?
            .iter()
            .map(|f| &f.name)
            .collect::<Vec<_>>()
    );
    Ok(())
}
