"""The shipped practical exam schemes (data; loaded by the demo and editable as new versions).

The 救护员取证 practical exam: adult CPR on a smart manikin under the Chinese Red Cross standard (5 cycles
of 30:2), scored by the scorer, and the skills a manikin cannot see, scored by the examiner. Critical
items (关键项) are those whose omission endangers the casualty or the rescuer: a missed one fails the exam
whatever the total.
"""

FIRST_AIDER = {
    "name": "救护员取证实操考核",
    "cpr_standard_id": "crc-first-aider-2024",
    "cpr_points": 40,
    "cpr_must_pass": True,
    "pass_points": 80,
    "theory_valid_days": 180,
    "retakes_allowed": 1,
    "retake_wait_days": 7,
    "slot_minutes": 20,
    "items": [
        {"key": "scene_safety", "skill": "现场评估", "points": 5, "critical": True,
         "title": "评估现场环境安全，做好个人防护"},
        {"key": "responsiveness", "skill": "判断意识", "points": 5, "critical": True,
         "title": "轻拍双肩、双耳旁大声呼唤，判断有无反应"},
        {"key": "call_for_help", "skill": "呼救", "points": 5, "critical": True,
         "title": "呼救：指定专人拨打120并取来AED"},
        {"key": "breathing_check", "skill": "判断呼吸", "points": 5, "critical": False,
         "title": "观察胸廓起伏判断呼吸，用时5～10秒"},
        {"key": "aed_pads", "skill": "AED使用", "points": 5, "critical": False,
         "title": "AED到达后立即开机，按图示贴放电极片"},
        {"key": "aed_clear", "skill": "AED使用", "points": 5, "critical": True,
         "title": "分析心律和除颤时确认无人接触患者，按提示除颤后立即继续按压"},
        {"key": "rescue_breaths", "skill": "人工呼吸", "points": 5, "critical": False,
         "title": "仰头提颏法开放气道，每次吹气约1秒，见胸廓隆起"},
        {"key": "bandaging", "skill": "止血包扎", "points": 10, "critical": False,
         "title": "加压包扎止血或三角巾包扎：松紧适度，露出肢端观察血运"},
        {"key": "splinting", "skill": "骨折固定", "points": 10, "critical": False,
         "title": "骨折固定：夹板长度超过上下两个关节，先固定骨折上端再固定下端"},
        {"key": "moving", "skill": "搬运", "points": 5, "critical": False,
         "title": "搬运伤员：怀疑颈椎损伤时保持头颈躯干成一直线"},
    ],
}

SCHEMES = {"first-aider": FIRST_AIDER}
