// Instagram's caption limits, counted live the way the API counts them (sociallab.scheduling.validation).
export const MAX_CAPTION = 2200;
export const MAX_HASHTAGS = 30;
export const MAX_MENTIONS = 20;

const HASHTAG = /(?<![\p{L}\p{N}_#&])#([\p{L}\p{N}_]+)/gu;
const MENTION = /(?<![\p{L}\p{N}_.@])@([A-Za-z0-9._]{1,30})/g;

export function hashtagsIn(text) { return [...(text || '').matchAll(HASHTAG)].map((m) => m[1]); }
export function mentionsIn(text) {
  return [...(text || '').matchAll(MENTION)].map((m) => m[1].replace(/\.+$/, '')).filter(Boolean);
}

/** What Instagram receives: the caption, then the hashtags it does not contain yet. */
export function instagramCaption(caption, hashtags) {
  const text = (caption || '').trim();
  const seen = new Set(hashtagsIn(text).map((t) => t.toLowerCase()));
  const extra = [];
  for (const raw of hashtags) {
    const tag = raw.trim().replace(/^#/, '');
    if (tag && !seen.has(tag.toLowerCase())) { seen.add(tag.toLowerCase()); extra.push(`#${tag}`); }
  }
  if (!extra.length) return text;
  return text ? `${text}\n\n${extra.join(' ')}` : extra.join(' ');
}

export function captionCounts(caption, hashtags) {
  const text = instagramCaption(caption, hashtags);
  return { characters: [...text].length, hashtags: hashtagsIn(text).length, mentions: mentionsIn(text).length };
}

export function splitHashtags(value) {
  return (value || '').split(/[\s,]+/).map((t) => t.trim()).filter(Boolean);
}
