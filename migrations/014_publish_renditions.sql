-- What Instagram receives of a photo used as it is (issue 10): a rendition made once at intake from the
-- normalised JPEG, to Instagram's image specification (sRGB JPEG, 1,080 px wide at most, far below 8 MB).
-- The normalised JPEG (2,560 px long edge) stays the source for composing graphics. Assets imported
-- before this have none; their posts publish the normalised JPEG, as before.
ALTER TABLE public.media_assets
    ADD COLUMN rendition_path   text,
    ADD COLUMN rendition_width  integer CONSTRAINT media_assets_rendition_width_check CHECK (rendition_width > 0),
    ADD COLUMN rendition_height integer CONSTRAINT media_assets_rendition_height_check CHECK (rendition_height > 0),
    ADD CONSTRAINT media_assets_rendition_check
        CHECK ((rendition_path IS NULL) = (rendition_width IS NULL) AND (rendition_path IS NULL) = (rendition_height IS NULL));
