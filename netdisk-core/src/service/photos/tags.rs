//! Tags on photos: added and removed by the photo's owner, at most [`MAX_TAGS_PER_PHOTO`] a
//! photo, each a word of at most [`MAX_TAG_CHARS`] characters, kept in lowercase (`#Lake` and
//! `lake` are one tag). A photo's `tag_names` (what its page shows, and what search reads) is
//! written from its `photo_tag` rows in the same transaction that changes them, with the photo
//! row locked, so two people tagging at once cannot lose one another's tags.

use mini_orm::{Model, Transaction};

use super::Photos;
use crate::error::{Result, ServiceError};
use crate::models::{Photo, PhotoTag, Tag};
use crate::service::Caller;

/// Most tags on one photo.
pub const MAX_TAGS_PER_PHOTO: usize = 20;
/// Longest tag, in characters.
pub const MAX_TAG_CHARS: usize = 32;

/// The tags of a photo's `tag_names`.
pub(super) fn split(tag_names: &str) -> Vec<String> {
    tag_names.split_whitespace().map(str::to_owned).collect()
}

/// The tags in `text` (separated by spaces or commas; a leading `#` dropped), in lowercase,
/// each once, or why one is refused.
pub fn parse_tags(text: &str) -> Result<Vec<String>> {
    let mut tags: Vec<String> = Vec::new();
    for word in text.split(|c: char| c.is_whitespace() || c == ',') {
        let word = word.trim_start_matches('#');
        if word.is_empty() {
            continue;
        }
        if word.chars().count() > MAX_TAG_CHARS {
            return Err(ServiceError::BadRequest(format!(
                "a tag has at most {MAX_TAG_CHARS} characters"
            )));
        }
        if word.chars().any(char::is_control) {
            return Err(ServiceError::bad_request(
                "a tag cannot contain control characters",
            ));
        }
        let tag = word.to_lowercase();
        if !tags.contains(&tag) {
            tags.push(tag);
        }
        if tags.len() > MAX_TAGS_PER_PHOTO {
            return Err(too_many());
        }
    }
    if tags.is_empty() {
        return Err(ServiceError::bad_request("give at least one tag"));
    }
    Ok(tags)
}

fn too_many() -> ServiceError {
    ServiceError::BadRequest(format!("a photo has at most {MAX_TAGS_PER_PHOTO} tags"))
}

impl Photos {
    /// Adds the tags in `text` (see [`parse_tags`]) to photo `id`; returns its tags. Its owner
    /// only; a tag it has already is kept once.
    pub async fn add_tags(&self, caller: &Caller, id: i64, text: &str) -> Result<Vec<String>> {
        let wanted = parse_tags(text)?;
        let mut tx = self.db().begin().await?;
        let mut photo = self.owned_for_update(&mut tx, caller, id).await?;
        let mut names = split(&photo.tag_names);
        let new: Vec<&String> = wanted.iter().filter(|t| !names.contains(t)).collect();
        if names.len() + new.len() > MAX_TAGS_PER_PHOTO {
            return Err(too_many());
        }
        for name in new {
            let mut tag = Tag {
                id: 0,
                name: name.clone(),
            };
            if !tag.insert_if_absent(&mut tx).await? {
                tag = Tag::query()
                    .filter(Tag::NAME.eq(name.as_str()))
                    .first(&mut tx)
                    .await?
                    .ok_or(ServiceError::NotFound("a tag vanished"))?;
            }
            let mut link = PhotoTag {
                id: 0,
                photo_id: id,
                tag_id: tag.id,
            };
            link.insert_if_absent(&mut tx).await?;
            names.push(name.clone());
        }
        photo.tag_names = names.join(" ");
        photo.update(&mut tx).await?;
        tx.commit().await?;
        Ok(names)
    }

    /// Removes tag `name` from photo `id`; returns its tags. Its owner only; a tag it does not
    /// have is not an error.
    pub async fn remove_tag(&self, caller: &Caller, id: i64, name: &str) -> Result<Vec<String>> {
        let name = name.trim_start_matches('#').to_lowercase();
        let mut tx = self.db().begin().await?;
        let mut photo = self.owned_for_update(&mut tx, caller, id).await?;
        let mut names = split(&photo.tag_names);
        if let Some(tag) = Tag::query()
            .filter(Tag::NAME.eq(name.as_str()))
            .first(&mut tx)
            .await?
        {
            PhotoTag::query()
                .filter(PhotoTag::PHOTO_ID.eq(id) & PhotoTag::TAG_ID.eq(tag.id))
                .delete(&mut tx)
                .await?;
        }
        names.retain(|n| *n != name);
        photo.tag_names = names.join(" ");
        photo.update(&mut tx).await?;
        tx.commit().await?;
        Ok(names)
    }

    /// Photo `id`, locked in `tx` until it ends, if the caller owns it.
    async fn owned_for_update(
        &self,
        tx: &mut Transaction,
        caller: &Caller,
        id: i64,
    ) -> Result<Photo> {
        let photo = Photo::query()
            .filter(Photo::ID.eq(id))
            .for_update()
            .first(&mut *tx)
            .await?
            .ok_or(ServiceError::NotFound("no such photo"))?;
        if photo.owner_id != caller.user_id() {
            return Err(ServiceError::Forbidden("only its owner may change a photo"));
        }
        Ok(photo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_words_in_lowercase_each_once() {
        assert_eq!(
            parse_tags("#Lake sunset, LAKE  夕阳").unwrap(),
            ["lake", "sunset", "夕阳"]
        );
        assert!(parse_tags(" , # ").is_err());
        assert!(parse_tags(&"x".repeat(MAX_TAG_CHARS + 1)).is_err());
        let thousands: String = (0..5000).map(|i| format!("t{i} ")).collect();
        let refused = parse_tags(&thousands).unwrap_err().to_string();
        assert!(refused.contains("at most 20 tags"), "{refused}");
        assert_eq!(
            parse_tags("<script>").unwrap(),
            ["<script>"],
            "kept as text"
        );
    }
}
