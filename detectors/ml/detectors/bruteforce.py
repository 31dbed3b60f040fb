"""Password guessing: authentication failures and user names tried by one source
address, or its repeated connections to remote-login ports when only flows are seen
(against every source); or failures of one user (against that user's own baseline
when it has one)."""

from __future__ import annotations

from detectors.ml.detectors.base import ZScoreDetector


class SourceBruteForceDetector(ZScoreDetector):
    name = "bruteforce_source"
    title_vi = "Dò mật khẩu từ một địa chỉ nguồn"
    title_en = "Password guessing from one source"
    severity = "high"
    tags = ("attack.credential_access", "attack.t1110")
    feature_set = "source"
    group_field = "source.ip"
    key_features = ("auth_failures", "distinct_users_failed", "login_port_connections")
    top_k = 1
    default_threshold = 3.5  # 5 failures over a baseline of none (crowdsec ssh-bf fires at 5 too)
    gate = {"auth_failures": 5, "login_port_connections": 8}  # noqa: RUF012


class UserBruteForceDetector(ZScoreDetector):
    name = "bruteforce_user"
    title_vi = "Dò mật khẩu nhắm vào một tài khoản"
    title_en = "Password guessing against one user"
    severity = "medium"
    tags = ("attack.credential_access", "attack.t1110")
    feature_set = "user"
    group_field = "user.name"
    key_features = ("failures", "distinct_hosts")
    top_k = 1
    use_entity = True
    default_threshold = 4.0
    gate = {"failures": 5}  # noqa: RUF012
