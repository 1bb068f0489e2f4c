// The player area: the room's HLS play URL in the browser's own player where it has one
// (Safari, iOS), else through hls.js (vendored in /assets/vendor, loaded only when needed).
// Until frames actually play — no stream yet, the encoder not started, the CDN unreachable —
// the page shows "waiting for the stream", and the player tries again every few seconds.

const RETRY_MS = 5000;

export class Player {
  /** `onPlaying(bool)` is told whether frames are playing. */
  constructor(video, onPlaying) {
    this.video = video;
    this.onPlaying = onPlaying;
    this.url = null;
    this.hls = null;
    this.retry = null;
    video.addEventListener('playing', () => onPlaying(true));
    for (const event of ['waiting', 'emptied', 'ended', 'error']) {
      video.addEventListener(event, () => onPlaying(false));
    }
    video.addEventListener('error', () => this.again());
  }

  /** Plays `url`, or stops when it is null. Calling it again with the same URL does nothing. */
  play(url) {
    if (url === this.url) return;
    this.url = url;
    this.load();
  }

  again() {
    clearTimeout(this.retry);
    if (this.url) this.retry = setTimeout(() => this.load(), RETRY_MS);
  }

  async load() {
    clearTimeout(this.retry);
    this.hls?.destroy();
    this.hls = null;
    this.onPlaying(false);
    const url = this.url;
    if (!url) {
      this.video.removeAttribute('src');
      this.video.load();
      return;
    }
    if (this.video.canPlayType('application/vnd.apple.mpegurl')) {
      this.video.src = url;
      this.video.play().catch(() => {});
      return;
    }
    let Hls;
    try {
      ({ default: Hls } = await import('/assets/vendor/hls.light.min.mjs'));
    } catch {
      return;
    }
    if (url !== this.url || !Hls.isSupported()) return;
    const hls = new Hls({ liveDurationInfinity: true });
    this.hls = hls;
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (data.fatal && hls === this.hls) {
        hls.destroy();
        this.hls = null;
        this.onPlaying(false);
        this.again();
      }
    });
    hls.on(Hls.Events.MANIFEST_PARSED, () => this.video.play().catch(() => {}));
    hls.loadSource(url);
    hls.attachMedia(this.video);
  }
}
