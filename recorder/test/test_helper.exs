:ets.new(:fake_telemetry, [:named_table, :public, :set])
ExUnit.start()
