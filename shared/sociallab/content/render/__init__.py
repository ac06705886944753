"""Drawing helpers of the composer: brand colours, fills, photos, text, layers."""
