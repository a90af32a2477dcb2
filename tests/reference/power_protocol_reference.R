# Power of the example protocols' planned samples, computed directly in R, for
# tests/power/test_protocol.py (the protocol -> power mapping).
# Run: Rscript tests/reference/power_protocol_reference.R > tests/reference/power_protocol_reference.json
library(jsonlite)
out <- list(
  # sms-link-worker: 1600 planned, 1:1, 5% attrition -> 760 analysed per arm; p0 = 0.62, p1 = 0.69.
  sms_attended = list(
    call = "power.prop.test(n = 760, p1 = 0.62, p2 = 0.69, sig.level = 0.05)",
    power = power.prop.test(n = 760, p1 = 0.62, p2 = 0.69, sig.level = 0.05)$power
  ),
  # A two-arm continuous variant: n = 400 per arm analysed, d = 1.5 / 9 with R^2 = 0.3 -> sd * sqrt(0.7).
  means_r2 = list(
    call = "power.t.test(n = 400, delta = 1.5, sd = 9 * sqrt(0.7), sig.level = 0.05)",
    power = power.t.test(n = 400, delta = 1.5, sd = 9 * sqrt(0.7), sig.level = 0.05)$power
  )
)
cat(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE))
