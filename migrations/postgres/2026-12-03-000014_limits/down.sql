ALTER TABLE device_codes DROP COLUMN client_address;
DROP TABLE rate_limits;
