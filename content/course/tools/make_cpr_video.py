"""Make the CPR rhythm lesson video (WebM, VP9 + Opus), its poster (PNG) and Chinese captions (WebVTT).

The machine has no ffmpeg; run this in a temporary virtual environment:

    python3 -m venv /tmp/vid && /tmp/vid/bin/pip install imageio-ffmpeg pillow numpy
    /tmp/vid/bin/python content/course/tools/make_cpr_video.py

It writes ``content/course/media/cpr-rhythm.webm``, ``cpr-rhythm-poster.png`` and
``cpr-rhythm.zh-hans.vtt``. The video shows one 30:2 cycle at 110 compressions a minute with a
metronome click on every compression: a count, a depth gauge that goes down 5–6 cm and fully back
up, then two rescue breaths of about one second each, then the reminder to resume at once.
"""

from __future__ import annotations

import math
import subprocess
import sys
import wave
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from PIL import Image, ImageDraw, ImageFont

OUT = Path(__file__).resolve().parents[1] / "media"
W, H = 480, 270
FPS = 24
RATE_PER_MIN = 110
PERIOD_S = 60 / RATE_PER_MIN
T_INTRO = 4.0
T_COMPRESS = T_INTRO + 30 * PERIOD_S  # 30 compressions end here (≈ 20.4 s)
T_BREATHS = T_COMPRESS + 5.0  # 2 breaths: open airway, 1 s blow, let it out, 1 s blow (< 10 s pause)
T_END = T_BREATHS + 6.0
RED = (200, 16, 46)
INK = (34, 34, 34)
GREY = (120, 120, 120)
SKIN = (246, 215, 195)
BLUE = (74, 120, 181)

FONT_PATHS = [
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc",
]


def font(size: int) -> ImageFont.FreeTypeFont:
    for path in FONT_PATHS:
        if Path(path).exists():
            # index 2 of the Noto CJK collection is Simplified Chinese (SC)
            try:
                return ImageFont.truetype(path, size, index=2)
            except OSError:
                return ImageFont.truetype(path, size)
    sys.exit("A Chinese font (Noto Sans CJK) is needed")


F_BIG, F_MID, F_SMALL, F_COUNT = font(34), font(22), font(17), font(72)

CHINESE_NUMBERS = "一二三四五六七八九十"


def centred(draw: ImageDraw.ImageDraw, y: int, text: str, fnt, fill=INK, x0: int = 0, x1: int = W) -> None:
    width = draw.textlength(text, font=fnt)
    draw.text(((x0 + x1 - width) / 2, y), text, font=fnt, fill=fill)


def draw_patient(draw, chest_drop: float, chest_rise: float = 0.0) -> None:
    """Side view of a person lying on the back; the chest goes down by chest_drop (0..1) or up by chest_rise."""
    ground = 236
    top = 196 + 14 * chest_drop - 8 * chest_rise
    draw.line((20, ground, 300, ground), fill=GREY, width=3)
    draw.rounded_rectangle((50, top, 280, ground - 2), radius=14, fill=BLUE, outline=(44, 79, 128), width=3)
    draw.ellipse((14, 196, 56, 234), fill=SKIN, outline=INK, width=3)


def draw_hands(draw, drop: float) -> None:
    y = 156 + 14 * drop
    draw.line((170, 40, 170, y), fill=(120, 120, 120), width=16)
    draw.rounded_rectangle((150, y - 6, 192, y + 40), radius=10, fill=(242, 201, 168), outline=INK, width=3)


def draw_gauge(draw, drop: float) -> None:
    """Depth gauge on the right: the marker goes down to the 5–6 cm band and fully back up."""
    x0, x1, top, bottom = 330, 360, 70, 230
    draw.rectangle((x0, top, x1, bottom), outline=INK, width=2)
    band_top = top + (bottom - top) * 5 / 7
    band_bottom = top + (bottom - top) * 6 / 7
    draw.rectangle((x0 + 2, band_top, x1 - 2, band_bottom), fill=(200, 230, 201))
    y = top + (bottom - top) * (5.5 / 7) * drop
    draw.rectangle((x0 - 6, y - 3, x1 + 6, y + 3), fill=RED)
    draw.text((x1 + 10, top - 10), "0", font=F_SMALL, fill=GREY)
    draw.text((x1 + 10, band_top - 4), "5～6 厘米", font=F_SMALL, fill=(46, 125, 50))


def compression_drop(t: float) -> float:
    """0 at full recoil, 1 at full depth: half the period down, half up (equal compression and recoil)."""
    phase = ((t - T_INTRO) % PERIOD_S) / PERIOD_S
    return math.sin(math.pi * phase)


def frame(t: float) -> Image.Image:
    image = Image.new("RGB", (W, H), "white")
    draw = ImageDraw.Draw(image)
    if t < T_INTRO:
        draw.rectangle((0, 0, W, 8), fill=RED)
        centred(draw, 60, "成人心肺复苏", F_BIG)
        centred(draw, 112, "跟着节律按压：30∶2", F_MID, RED)
        centred(draw, 150, "频率 100～120 次/分 · 深度 5～6 厘米", F_SMALL)
        centred(draw, 178, "每次按压后胸廓充分回弹", F_SMALL)
        left = T_INTRO - t
        centred(draw, 220, f"{math.ceil(left)} 秒后开始", F_SMALL, GREY)
    elif t < T_COMPRESS:
        n = int((t - T_INTRO) // PERIOD_S) + 1
        drop = compression_drop(t)
        draw_patient(draw, drop)
        draw_hands(draw, drop)
        draw_gauge(draw, drop)
        draw.text((20, 12), "胸外按压", font=F_MID, fill=INK)
        draw.text((20, 42), f"{RATE_PER_MIN} 次/分", font=F_SMALL, fill=GREY)
        count = str(n)
        width = draw.textlength(count, font=F_COUNT)
        draw.text((W - 30 - width, 0), count, font=F_COUNT, fill=RED)
        draw.text((W - 80, 84), "/ 30", font=F_SMALL, fill=GREY)
    elif t < T_BREATHS:
        s = t - T_COMPRESS
        rise = 0.0
        if 1.0 <= s < 2.0:
            rise = s - 1.0
        elif 2.0 <= s < 3.0:
            rise = 1.0 - (s - 2.0)
        elif 3.0 <= s < 4.0:
            rise = s - 3.0
        elif 4.0 <= s < 5.0:
            rise = 1.0 - (s - 4.0)
        draw_patient(draw, 0.0, rise)
        draw.text((20, 12), "开放气道，人工呼吸 2 次", font=F_MID, fill=INK)
        label = "仰头提颏" if s < 1.0 else ("第 1 次：吹气约 1 秒" if s < 3.0 else "第 2 次：吹气约 1 秒")
        draw.text((20, 46), label, font=F_SMALL, fill=RED)
        draw.text((20, 72), "看到胸廓隆起即可", font=F_SMALL, fill=GREY)
        # pause timer: breaths must not stop compressions for more than 10 s
        draw.text((330, 120), f"中断 {s:.0f} 秒", font=F_MID, fill=RED if s > 8 else INK)
        draw.text((330, 152), "（不超过 10 秒）", font=F_SMALL, fill=GREY)
    else:
        draw.rectangle((0, 0, W, 8), fill=RED)
        centred(draw, 54, "立即恢复胸外按压", F_BIG, RED)
        centred(draw, 110, "30∶2 循环，尽量减少中断", F_MID)
        centred(draw, 150, "AED 到达后马上使用，按语音提示操作", F_SMALL)
        centred(draw, 180, "两人以上时约每 2 分钟轮换按压", F_SMALL)
    return image


def metronome(path: Path, rate: int = 24000) -> None:
    """A click on every compression (the moment of full depth would be too late: on its start)."""
    samples = np.zeros(int(T_END * rate), dtype=np.float32)
    click = np.sin(2 * np.pi * 1600 * np.arange(int(0.03 * rate)) / rate) * np.hanning(int(0.03 * rate))
    for i in range(30):
        start = int((T_INTRO + i * PERIOD_S) * rate)
        samples[start:start + len(click)] += 0.6 * click
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())


def timestamp(seconds: float) -> str:
    ms = int(round(seconds * 1000))
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def captions(path: Path) -> None:
    mid = T_INTRO + 15 * PERIOD_S
    cues = [
        (0, T_INTRO, "成人心肺复苏：跟着节律按压，按压与人工呼吸的比例为 30∶2。"),
        (T_INTRO, mid, "胸外按压：频率 100～120 次/分，深度 5～6 厘米，边按边数。"),
        (mid, T_COMPRESS, "每次按压后让胸廓完全回弹，手掌不离开胸壁，按满 30 次。"),
        (T_COMPRESS, T_COMPRESS + 1.0, "仰头提颏，开放气道。"),
        (T_COMPRESS + 1.0, T_BREATHS, "人工呼吸 2 次，每次吹气约 1 秒，看到胸廓隆起即可。"),
        (T_BREATHS, T_END, "立即恢复按压，中断不超过 10 秒；AED 到达后马上使用。"),
    ]
    lines = ["WEBVTT", "Language: zh-hans", ""]
    for i, (start, end, text) in enumerate(cues, start=1):
        lines += [str(i), f"{timestamp(start)} --> {timestamp(end)}", text, ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    video = OUT / "cpr-rhythm.webm"
    audio = OUT / "cpr-rhythm-click.wav"
    metronome(audio)
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    command = [
        ffmpeg, "-y", "-loglevel", "error",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}", "-r", str(FPS), "-i", "-",
        "-i", str(audio),
        "-c:v", "libvpx-vp9", "-b:v", "0", "-crf", "40", "-deadline", "good", "-row-mt", "1",
        "-pix_fmt", "yuv420p", "-c:a", "libopus", "-b:a", "24k",
        "-shortest", str(video),
    ]
    process = subprocess.Popen(command, stdin=subprocess.PIPE)
    total = int(T_END * FPS)
    for i in range(total):
        process.stdin.write(frame(i / FPS).tobytes())
    process.stdin.close()
    if process.wait() != 0:
        sys.exit("ffmpeg failed")
    audio.unlink()
    poster = frame(T_INTRO + 7 * PERIOD_S + PERIOD_S / 2)
    poster.save(OUT / "cpr-rhythm-poster.png", optimize=True)
    captions(OUT / "cpr-rhythm.zh-hans.vtt")
    print(f"{video} {video.stat().st_size} bytes, {T_END:.2f} s")


if __name__ == "__main__":
    main()
