"""Alert explanations a person reads, in Vietnamese and English: which features drove
the score, their values against the entity's baseline."""

from __future__ import annotations

from typing import Any

FEATURE_LABELS: dict[str, tuple[str, str]] = {
    "events_per_min": ("số sự kiện/phút", "events per minute"),
    "distinct_dst_ports": ("số cổng đích khác nhau", "distinct destination ports"),
    "distinct_dst_ips": ("số địa chỉ đích khác nhau", "distinct destination IPs"),
    "bytes_out": ("số byte gửi ra", "bytes sent out"),
    "failed_logons": ("số lần đăng nhập thất bại", "failed logons"),
    "new_processes": ("số tiến trình mới", "new processes"),
    "new_services": ("số dịch vụ mới cài", "new services"),
    "logons": ("số lần đăng nhập", "logons"),
    "distinct_hosts": ("số máy khác nhau", "distinct hosts"),
    "off_hours_share": ("tỉ lệ ngoài giờ làm việc", "off-hours share"),
    "failures": ("số lần xác thực thất bại", "authentication failures"),
    "privilege_use": ("số lần dùng đặc quyền", "privilege use"),
    "connections": ("số kết nối", "connections"),
    "denies": ("số kết nối bị chặn", "denied connections"),
    "auth_failures": ("số lần xác thực thất bại", "authentication failures"),
    "distinct_users_failed": ("số tài khoản thử thất bại", "distinct users failed"),
    "failure_ratio": ("tỉ lệ thất bại", "failure ratio"),
    "queries_per_min": ("số truy vấn DNS/phút", "DNS queries per minute"),
    "distinct_names": ("số tên miền truy vấn khác nhau", "distinct names queried"),
    "distinct_domains": ("số tên miền đăng ký khác nhau", "distinct registered domains"),
    "nxdomain_share": ("tỉ lệ NXDOMAIN", "NXDOMAIN share"),
    "mean_label_entropy": ("entropy trung bình của nhãn", "mean label entropy"),
    "mean_name_length": ("độ dài tên trung bình", "mean name length"),
    "max_subdomain_length": ("độ dài tên miền con lớn nhất", "longest subdomain"),
    "names_per_domain": ("số tên con dưới một tên miền", "names under one domain"),
    "txt_null_share": ("tỉ lệ truy vấn TXT/NULL", "TXT/NULL query share"),
    "failed_connections": ("số kết nối bị chặn/từ chối", "failed (denied or reset) connections"),
    "failed_dst_ports": ("số cổng đích bị chặn/từ chối", "distinct ports of failed connections"),
    "login_port_connections": ("số kết nối tới cổng đăng nhập từ xa", "connections to remote-login ports"),
    "interval_median_s": ("chu kỳ trung vị (giây)", "median interval (s)"),
    "jitter": ("độ dao động chu kỳ", "interval jitter"),
    "skew": ("độ lệch khoảng cách", "interval skew"),
    "bytes_cv": ("độ biến thiên kích thước", "size variation"),
    "coverage": ("tỉ lệ thời gian có kết nối", "share of the span covered"),
    "pair_count": ("số lần chạy cặp tiến trình", "starts of the process pair"),
    "child_hosts": ("số máy từng chạy tiến trình con", "hosts that ran the child process"),
}


def label(feature: str) -> tuple[str, str]:
    return FEATURE_LABELS.get(feature, (feature, feature))


def describe(
    title_vi: str, title_en: str, entity: str, contributions: list[dict[str, Any]]
) -> dict[str, str]:
    """One sentence per language: the finding and its top features against the baseline."""
    parts_vi, parts_en = [], []
    for c in contributions:
        vi, en = label(c["feature"])
        if "baseline_median" in c:
            parts_vi.append(f"{vi} = {_num(c['value'])} (nền: trung vị {_num(c['baseline_median'])}, "
                            f"p99 {_num(c['baseline_p99'])}, z = {c['z']})")  # fmt: skip
            parts_en.append(f"{en} = {_num(c['value'])} (baseline median {_num(c['baseline_median'])}, "
                            f"p99 {_num(c['baseline_p99'])}, z = {c['z']})")  # fmt: skip
        else:
            parts_vi.append(f"{vi} = {_num(c['value'])}")
            parts_en.append(f"{en} = {_num(c['value'])}")
    return {
        "vi": f"{title_vi} tại {entity}: " + "; ".join(parts_vi) + ".",
        "en": f"{title_en} at {entity}: " + "; ".join(parts_en) + ".",
    }


def _num(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)
