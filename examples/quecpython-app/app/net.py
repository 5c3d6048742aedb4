# Network bring-up for the example device.
import ujson

def connect():
    with open('/usr/cfg/apn_cfg.json') as f:
        cfg = ujson.loads(f.read())
    print('dialing', cfg['apn'])
