//! Draws the chat screen from a [`Chat`], and nothing else: the rooms along the top (the current
//! one highlighted), the messages (times in the reader's time zone, wrapped to the width,
//! scrolled as the state says) beside the people in the room, the connection's status with the
//! latest notice, and the input line. Drawing reports what it showed ([`View`]) so that the
//! state can scroll by pages.

use std::fmt::Display;
use std::time::Instant;

use super::Said;
use chrono::TimeZone;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Tabs, Wrap};
use unicode_width::UnicodeWidthChar;

use super::state::{Chat, Status, View, clean};

/// The people column's width, shown when the screen is at least twice as wide.
const PEOPLE_WIDTH: u16 = 24;

/// Draws `chat` at `now` (for the reconnection countdown), with times in `tz`.
pub fn draw<Tz>(frame: &mut Frame, chat: &Chat, now: Instant, tz: &Tz) -> View
where
    Tz: TimeZone,
    Tz::Offset: Display,
{
    let [top, body, status, input] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    draw_rooms(frame, chat, top);
    let view = if body.width >= 2 * PEOPLE_WIDTH {
        let [messages, people] =
            Layout::horizontal([Constraint::Fill(1), Constraint::Length(PEOPLE_WIDTH)]).areas(body);
        draw_people(frame, chat, people);
        draw_messages(frame, chat, messages, tz)
    } else {
        draw_messages(frame, chat, body, tz)
    };
    frame.render_widget(Paragraph::new(status_line(chat, now)), status);
    draw_input(frame, chat, input);
    view
}

fn draw_rooms(frame: &mut Frame, chat: &Chat, area: Rect) {
    let mut names: Vec<&str> = chat.rooms().iter().map(|r| r.name.as_str()).collect();
    if !names.contains(&chat.room()) {
        names.push(chat.room());
    }
    let selected = names.iter().position(|name| *name == chat.room());
    let titles = names.into_iter().map(|name| format!("#{}", clean(name)));
    let tabs = Tabs::new(titles)
        .select(selected)
        .style(Style::new().fg(Color::DarkGray))
        .highlight_style(
            Style::new()
                .fg(Color::White)
                .add_modifier(Modifier::BOLD | Modifier::REVERSED),
        )
        .divider("│");
    frame.render_widget(tabs, area);
}

/// Draws the messages, bottom-aligned, scrolled up by the state's scroll.
fn draw_messages<Tz>(frame: &mut Frame, chat: &Chat, area: Rect, tz: &Tz) -> View
where
    Tz: TimeZone,
    Tz::Offset: Display,
{
    let description = chat
        .rooms()
        .iter()
        .find(|room| room.name == chat.room())
        .map(|room| format!(" — {}", clean(&room.description)))
        .unwrap_or_default();
    let mut block = Block::bordered().title(format!(" #{}{description} ", clean(chat.room())));
    if chat.scroll() > 0 {
        block = block.title_bottom(Line::from(" ↓ newer: PgDn ").right_aligned());
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let (width, height) = (usize::from(inner.width), usize::from(inner.height));
    let mut lines = Vec::new();
    if let Some(top) = top_line(chat) {
        lines.push(Line::styled(top, Style::new().fg(Color::DarkGray)).centered());
    }
    for said in chat.messages() {
        lines.extend(message_lines(said, chat.me(), width, tz));
    }
    let max_scroll = lines.len().saturating_sub(height);
    let end = lines.len() - chat.scroll().min(max_scroll);
    let shown: Vec<Line> = lines.drain(end.saturating_sub(height)..end).collect();
    let gap = u16::try_from(height - shown.len()).unwrap_or(0);
    let area = Rect {
        y: inner.y + gap,
        height: inner.height - gap,
        ..inner
    };
    frame.render_widget(Paragraph::new(shown), area);
    View { height, max_scroll }
}

/// What the line above the oldest message says.
fn top_line(chat: &Chat) -> Option<String> {
    if chat.start_reached() {
        Some(format!("— the start of #{} —", clean(chat.room())))
    } else if chat.loading_earlier() {
        Some("— loading earlier messages… —".into())
    } else if chat.messages().next().is_some() {
        Some("— PgUp for earlier messages —".into())
    } else {
        None
    }
}

/// One message as lines of at most `width` columns: `HH:MM nickname: text`.
fn message_lines<Tz>(said: &Said, me: &str, width: usize, tz: &Tz) -> Vec<Line<'static>>
where
    Tz: TimeZone,
    Tz::Offset: Display,
{
    let colour = if said.user == me {
        Color::Green
    } else {
        Color::Cyan
    };
    let nickname = Style::new().fg(colour).add_modifier(Modifier::BOLD);
    let clock = clock(said.sent_at_ms, tz);
    wrap(
        &[
            (clock.as_str(), Style::new().fg(Color::DarkGray)),
            (" ", Style::new()),
            (said.nickname.as_str(), nickname),
            (": ", Style::new()),
            (said.text.as_str(), Style::new()),
        ],
        width,
    )
}

/// `HH:MM` of `ms` since the Unix epoch, in `tz`.
fn clock<Tz>(ms: i64, tz: &Tz) -> String
where
    Tz: TimeZone,
    Tz::Offset: Display,
{
    match tz.timestamp_millis_opt(ms).single() {
        Some(time) => time.format("%H:%M").to_string(),
        None => "--:--".into(),
    }
}

/// Styled pieces of text as lines of at most `width` columns, broken after a space when one is
/// on the line, else anywhere (a space stays at the end of the line it ends).
fn wrap(pieces: &[(&str, Style)], width: usize) -> Vec<Line<'static>> {
    let width = width.max(1);
    let chars: Vec<(char, Style)> = pieces
        .iter()
        .flat_map(|(text, style)| text.chars().map(move |c| (c, *style)))
        .collect();
    let mut lines = Vec::new();
    let mut start = 0;
    while start < chars.len() {
        let (mut end, mut used, mut after_space) = (start, 0, None);
        while let Some((c, _)) = chars.get(end) {
            let w = c.width().unwrap_or(0);
            if used + w > width {
                break;
            }
            used += w;
            end += 1;
            if *c == ' ' {
                after_space = Some(end);
            }
        }
        // Break after the line's last space, unless that would leave the line blank.
        if end < chars.len()
            && let Some(after_space) = after_space.filter(|&at| at > start + 1)
        {
            end = after_space;
        }
        // A character wider than the whole line still takes a line of its own.
        end = end.max(start + 1);
        lines.push(styled_line(&chars[start..end]));
        start = end;
    }
    lines
}

/// Characters with their styles as one line, a span per run of one style.
fn styled_line(chars: &[(char, Style)]) -> Line<'static> {
    let mut spans: Vec<Span<'static>> = Vec::new();
    for (c, style) in chars {
        match spans.last_mut() {
            Some(span) if span.style == *style => span.content.to_mut().push(*c),
            _ => spans.push(Span::styled(c.to_string(), *style)),
        }
    }
    Line::from(spans)
}

fn draw_people(frame: &mut Frame, chat: &Chat, area: Rect) {
    let Some(people) = chat.people() else {
        let block = Block::bordered().title(" people ");
        let unknown = Paragraph::new("(who is here is not known)")
            .style(Style::new().fg(Color::DarkGray))
            .wrap(Wrap { trim: true })
            .block(block);
        frame.render_widget(unknown, area);
        return;
    };
    let block = Block::bordered().title(format!(" people ({}) ", people.len()));
    let lines: Vec<Line> = people
        .into_iter()
        .map(|(nickname, is_me)| {
            let style = if is_me {
                Style::new().fg(Color::Green).add_modifier(Modifier::BOLD)
            } else {
                Style::new()
            };
            Line::styled(nickname.to_owned(), style)
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// The connection's status, then the latest notice.
fn status_line(chat: &Chat, now: Instant) -> Line<'static> {
    let room = clean(chat.room());
    let (text, colour) = match chat.status() {
        Status::Connecting => (format!("connecting to #{room}…"), Color::Yellow),
        Status::Connected => match chat.user() {
            Some(user) => (format!("connected as {user}"), Color::Green),
            None => ("connected as a guest (read-only)".into(), Color::Yellow),
        },
        Status::Lost { reason, .. } => {
            let left = chat.retry_in(now).unwrap_or_default();
            let seconds = left.as_millis().div_ceil(1000);
            let when = if seconds == 0 {
                "reconnecting…".to_owned()
            } else {
                format!("reconnecting in {seconds}s")
            };
            (format!("connection lost — {when} ({reason})"), Color::Red)
        }
        Status::Failed(reason) => (
            format!("{reason} — Tab or /join ROOM to go elsewhere, Esc quits"),
            Color::Red,
        ),
    };
    let mut spans = vec![Span::styled(text, Style::new().fg(colour))];
    if let Some(notice) = chat.notice() {
        let colour = if notice.is_error {
            Color::Red
        } else {
            Color::Cyan
        };
        spans.push(Span::raw(" · "));
        spans.push(Span::styled(notice.text.clone(), Style::new().fg(colour)));
    }
    Line::from(spans)
}

/// `> ` and the end of the input that fits, with the cursor after it.
fn draw_input(frame: &mut Frame, chat: &Chat, area: Rect) {
    const PROMPT: &str = "> ";
    let room = usize::from(area.width).saturating_sub(PROMPT.len() + 1);
    let mut used = 0;
    let tail_start = chat
        .input()
        .char_indices()
        .rev()
        .take_while(|(_, c)| {
            used += c.width().unwrap_or(0);
            used <= room
        })
        .last()
        .map_or(chat.input().len(), |(i, _)| i);
    let tail = &chat.input()[tail_start..];
    let shown_width: usize = tail.chars().map(|c| c.width().unwrap_or(0)).sum();
    let line = Line::from(vec![
        Span::styled(PROMPT, Style::new().fg(Color::DarkGray)),
        Span::raw(tail.to_owned()),
    ]);
    frame.render_widget(Paragraph::new(line), area);
    let x = area.x + u16::try_from(PROMPT.len() + shown_width).unwrap_or(area.width);
    frame.set_cursor_position((x.min(area.right().saturating_sub(1)), area.y));
}

#[cfg(test)]
#[path = "ui_tests.rs"]
mod tests;
