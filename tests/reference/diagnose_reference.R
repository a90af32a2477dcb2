# Analytic power that the simulation diagnosis must reproduce within Monte-Carlo error.
# Run: Rscript tests/reference/diagnose_reference.R > tests/reference/diagnose_reference.json
library(pwr)
library(jsonlite)
cat(toJSON(list(
  two_arm_n100_d04 = list(
    source = "pwr::pwr.t.test(n = 100, d = 0.4, sig.level = 0.05) and stats::power.t.test(n = 100, delta = 0.4, sd = 1)",
    pwr_t_test = pwr.t.test(n = 100, d = 0.4, sig.level = 0.05)$power,
    power_t_test = power.t.test(n = 100, delta = 0.4, sd = 1)$power
  )
), auto_unbox = TRUE, digits = NA, pretty = TRUE))
